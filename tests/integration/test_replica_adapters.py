"""The shared-state adapters as two replicas use them: two sets of adapters, each with its own
LISTEN connection, on one PostgreSQL database (and the device-code digest on SQLite too)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from floww.adapters.local.hub import LocalRealtimeHub
from floww.adapters.memory import InMemorySecretBox, ManualClock
from floww.adapters.sql import make_engine, migrate
from floww.adapters.sql.device_logins import SqlDeviceLogins
from floww.adapters.sql.notify import PgNotifications
from floww.adapters.sql.realtime_fanout import PgFanOutRealtime
from floww.adapters.sql.replica_schema import device_logins, realtime_messages
from floww.adapters.sql.replies import SqlReplies
from floww.domain.device_flow import DeviceFlow
from floww.domain.model import InvocationResult
from tests.integration.postgres import session_database

pytestmark = pytest.mark.integration

BOX = InMemorySecretBox()  # replicas share one home, so one secret box
ANSWER = InvocationResult(ok=True, result={"status": 200, "body": "from b"})


@pytest.fixture
def engine() -> Engine:
    database = session_database()
    database.reset()
    return database.engine


@pytest.fixture
def listeners(engine: Engine) -> Iterator[tuple[PgNotifications, PgNotifications]]:
    a, b = PgNotifications(engine), PgNotifications(engine)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_a_reply_delivered_on_one_replica_wakes_the_waiter_on_another(
    engine: Engine, listeners: tuple[PgNotifications, PgNotifications]
) -> None:
    on_a, on_b = SqlReplies(engine, listeners[0]), SqlReplies(engine, listeners[1])
    on_a.open("rp_cross")
    got: list[InvocationResult | None] = []
    waiter = threading.Thread(target=lambda: got.append(on_a.wait("rp_cross", timeout=20)))
    waiter.start()
    on_b.deliver("rp_cross", ANSWER)
    waiter.join(25)
    assert got == [ANSWER]


def test_a_publication_on_one_replica_reaches_subscribers_of_another(
    engine: Engine, listeners: tuple[PgNotifications, PgNotifications]
) -> None:
    hub_a, hub_b = LocalRealtimeHub(), LocalRealtimeHub()
    replica_a = PgFanOutRealtime(hub_a, engine, listeners[0], BOX)
    replica_b = PgFanOutRealtime(hub_b, engine, listeners[1], BOX)
    on_a, on_b = replica_a.subscribe("workflow:w"), replica_b.subscribe("workflow:w")
    body = {"type": "event", "body": "x" * 20_000}  # over NOTIFY's 8000-byte payload cap
    for n in range(3):
        replica_b.publish("workflow:w", {**body, "n": n})
    for subscription in (on_a, on_b):
        got = [subscription.get(timeout=10) for _ in range(3)]
        assert [m["n"] if m else None for m in got] == [0, 1, 2]
        assert subscription.get(timeout=0.2) is None  # each once, never echoed back


def test_the_outbox_holds_nothing_readable(
    engine: Engine, listeners: tuple[PgNotifications, PgNotifications]
) -> None:
    """A dev event carries an execution token and the caller's request: sealed at rest."""
    replica = PgFanOutRealtime(LocalRealtimeHub(), engine, listeners[0], BOX)
    replica.publish("workflow:w", {"type": "event", "token": "tok-live-123", "body": "card 4242"})
    with engine.connect() as conn:
        stored = [json.dumps(row.message) for row in conn.execute(select(realtime_messages))]
    assert stored and not any("tok-live" in row or "4242" in row for row in stored)


def test_publications_older_than_keep_s_are_forgotten(
    engine: Engine, listeners: tuple[PgNotifications, PgNotifications]
) -> None:
    replica = PgFanOutRealtime(LocalRealtimeHub(), engine, listeners[0], BOX, keep_s=0.2)
    replica.publish("workflow:w", {"n": 1})
    time.sleep(0.3)  # the first row is past keep_s, and so is the time to look for such rows
    replica.publish("workflow:w", {"n": 2})
    with engine.connect() as conn:
        assert len(conn.execute(select(realtime_messages)).all()) == 1


def test_device_codes_are_stored_as_digests_only(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'floww.db'}")
    try:
        migrate(engine)
        flow = DeviceFlow(
            ManualClock().now, expires_in=600, interval=5, store=SqlDeviceLogins(engine)
        )
        device = flow.start("floww-cli")
        with engine.connect() as conn:
            rows = conn.execute(select(device_logins)).all()
        assert len(rows) == 1
        assert device.device_code not in repr(tuple(rows[0]))
    finally:
        engine.dispose()
