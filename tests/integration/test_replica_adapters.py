"""The shared-state adapters as two replicas use them: two sets of adapters, each with its own
LISTEN connection, on one PostgreSQL database (and the device-code digest on SQLite too)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, insert, select

from floww.adapters.local.hub import LocalRealtimeHub
from floww.adapters.memory import InMemorySecretBox, ManualClock
from floww.adapters.sql import dev_sessions as sql_dev_sessions
from floww.adapters.sql import make_engine, migrate
from floww.adapters.sql.device_logins import SqlDeviceLogins
from floww.adapters.sql.notify import PgNotifications
from floww.adapters.sql.realtime_fanout import PgFanOutRealtime
from floww.adapters.sql.replica_schema import dev_sessions, device_logins, realtime_messages
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


def test_a_listener_hears_of_possible_misses_only_once_its_listen_is_in_effect(
    engine: Engine,
) -> None:
    """A listener told "you may have missed something" (``None``) re-reads the database at
    once; a change notified right then must reach it. So ``None`` comes only once the LISTEN
    is in effect: at the first connection and again after a lost one was reopened."""
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    heard: list[str | None] = []

    def listener(payload: str | None) -> None:
        heard.append(payload)
        if payload is None:  # the re-check: a peer's change committed just now
            with psycopg.connect(url, autocommit=True) as peer:
                peer.execute("SELECT pg_notify('floww_test_misses', %s)", (f"after-{len(heard)}",))

    notifications = PgNotifications(engine)
    try:
        notifications.listen("floww_test_misses", listener)
        _wait_for(lambda: "after-1" in heard, "the change notified at the first re-check")
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%%floww_test_misses%%' AND pid <> pg_backend_pid()"
            )
        _wait_for(lambda: heard.count(None) >= 2, "the re-check after the reconnect")
        second = f"after-{heard.index(None, heard.index(None) + 1) + 1}"
        _wait_for(lambda: second in heard, "the change notified at the re-check")
    finally:
        notifications.close()


def test_a_dev_session_nobody_was_told_of_is_seen_within_the_keep_time(
    engine: Engine,
    listeners: tuple[PgNotifications, PgNotifications],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A notification a replica missed costs at most ``KEEP_S``: here the session is written
    behind every replica's back (no NOTIFY at all), and still appears."""
    monkeypatch.setattr(sql_dev_sessions, "KEEP_S", 0.3)
    sessions = sql_dev_sessions.SqlDevSessions(engine, listeners[0])
    now = datetime.now(UTC)
    assert sessions.live("wf_unseen", now) == []
    with engine.begin() as conn:
        conn.execute(
            insert(dev_sessions).values(
                workflow_id="wf_unseen",
                session_id="ses_1",
                specs=[],
                connected_at=now,
                expires_at=now + timedelta(seconds=60),
            )
        )
    _wait_for(
        lambda: [s.session_id for s in sessions.live("wf_unseen", now)] == ["ses_1"],
        "the session written without a notification",
    )


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.02)
