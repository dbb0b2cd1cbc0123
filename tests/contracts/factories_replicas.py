"""The adapters that let replicas share state, in their contract suites: dev session leases
(also as two replicas see them) and device logins (memory, SQLite, PostgreSQL), replies
through the database (SQLite polling, PostgreSQL with LISTEN/NOTIFY) and realtime fanned out
through PostgreSQL."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from floww.adapters.local.hub import LocalRealtimeHub
from floww.adapters.memory import InMemorySecretBox
from floww.adapters.memory.dev_sessions import InMemoryDevSessions
from floww.adapters.sql import dev_sessions as sql_dev_sessions
from floww.adapters.sql import make_engine, migrate
from floww.adapters.sql.dev_sessions import SqlDevSessions
from floww.adapters.sql.device_logins import SqlDeviceLogins
from floww.adapters.sql.notify import PgNotifications
from floww.adapters.sql.realtime_fanout import PgFanOutRealtime
from floww.adapters.sql.replies import SqlReplies
from floww.domain.device_flow import DeviceLoginStore, MemoryDeviceLogins
from floww.ports.dev_sessions import DevSessions
from floww.ports.realtime import Realtime
from floww.ports.replies import Replies
from tests.integration.postgres import session_database


def _sqlite_engine() -> Iterator[Engine]:
    directory = Path(tempfile.mkdtemp(prefix="floww-sqlite-"))
    engine = make_engine(f"sqlite:///{directory / 'floww.db'}")
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        shutil.rmtree(directory, ignore_errors=True)


def _postgresql_engine() -> Engine:
    database = session_database()
    database.reset()
    return database.engine


def memory_dev_sessions() -> Iterator[DevSessions]:
    yield InMemoryDevSessions()


def sqlite_dev_sessions() -> Iterator[DevSessions]:
    for engine in _sqlite_engine():
        yield SqlDevSessions(engine)


def postgresql_dev_sessions() -> Iterator[DevSessions]:
    yield SqlDevSessions(_postgresql_engine())


def memory_dev_sessions_replicas() -> Iterator[tuple[DevSessions, DevSessions]]:
    store = InMemoryDevSessions()
    yield store, store


@contextlib.contextmanager
def _copies_kept_long() -> Iterator[None]:
    """Copies of dev sessions kept a minute: what a replica sees within the contract's waits
    it was told of (its own change, a notification), not read again when its copy aged."""
    kept = sql_dev_sessions.KEEP_S
    sql_dev_sessions.KEEP_S = 60.0
    try:
        yield
    finally:
        sql_dev_sessions.KEEP_S = kept


def sqlite_dev_sessions_replicas() -> Iterator[tuple[DevSessions, DevSessions]]:
    for engine in _sqlite_engine():
        with _copies_kept_long():
            yield SqlDevSessions(engine), SqlDevSessions(engine)


def postgresql_dev_sessions_replicas() -> Iterator[tuple[DevSessions, DevSessions]]:
    """Each with its own listening connection, as each replica has."""
    engine = _postgresql_engine()
    one, two = PgNotifications(engine), PgNotifications(engine)
    try:
        with _copies_kept_long():
            yield SqlDevSessions(engine, one), SqlDevSessions(engine, two)
    finally:
        one.close()
        two.close()


def sqlite_replies() -> Iterator[Replies]:
    for engine in _sqlite_engine():
        yield SqlReplies(engine, poll_s=0.01)


def postgresql_replies() -> Iterator[Replies]:
    engine = _postgresql_engine()
    notifications = PgNotifications(engine)
    try:
        yield SqlReplies(engine, notifications)
    finally:
        notifications.close()


def sqlite_replies_replicas() -> Iterator[tuple[Replies, Replies]]:
    for engine in _sqlite_engine():
        yield SqlReplies(engine, poll_s=0.01), SqlReplies(engine, poll_s=0.01)


def postgresql_replies_replicas() -> Iterator[tuple[Replies, Replies]]:
    """Each with its own listening connection, as each replica has."""
    engine = _postgresql_engine()
    one, two = PgNotifications(engine), PgNotifications(engine)
    try:
        # Re-read only once a minute: within the contract's waits, only a NOTIFY wakes them.
        yield SqlReplies(engine, one, poll_s=60), SqlReplies(engine, two, poll_s=60)
    finally:
        one.close()
        two.close()


def postgresql_fanout_realtime() -> Iterator[Realtime]:
    engine = _postgresql_engine()
    notifications = PgNotifications(engine)
    try:
        yield PgFanOutRealtime(LocalRealtimeHub(), engine, notifications, InMemorySecretBox())
    finally:
        notifications.close()


def memory_device_logins() -> Iterator[DeviceLoginStore]:
    yield MemoryDeviceLogins()


def sqlite_device_logins() -> Iterator[DeviceLoginStore]:
    for engine in _sqlite_engine():
        yield SqlDeviceLogins(engine)


def postgresql_device_logins() -> Iterator[DeviceLoginStore]:
    yield SqlDeviceLogins(_postgresql_engine())


DEVICE_LOGINS_FACTORIES = [
    pytest.param(memory_device_logins, id="memory"),
    pytest.param(sqlite_device_logins, id="sqlite"),
    pytest.param(postgresql_device_logins, id="postgresql", marks=pytest.mark.integration),
]
DEV_SESSIONS_FACTORIES = [
    pytest.param(memory_dev_sessions, id="memory"),
    pytest.param(sqlite_dev_sessions, id="sqlite"),
    pytest.param(postgresql_dev_sessions, id="postgresql", marks=pytest.mark.integration),
]
DEV_SESSIONS_REPLICAS_FACTORIES = [
    pytest.param(memory_dev_sessions_replicas, id="memory"),
    pytest.param(sqlite_dev_sessions_replicas, id="sqlite"),
    pytest.param(postgresql_dev_sessions_replicas, id="postgresql", marks=pytest.mark.integration),
]
REPLIES_FACTORIES = [
    pytest.param(sqlite_replies, id="sqlite"),
    pytest.param(postgresql_replies, id="postgresql", marks=pytest.mark.integration),
]
REPLIES_REPLICAS_FACTORIES = [
    pytest.param(sqlite_replies_replicas, id="sqlite"),
    pytest.param(postgresql_replies_replicas, id="postgresql", marks=pytest.mark.integration),
]
REALTIME_FACTORIES = [
    pytest.param(postgresql_fanout_realtime, id="postgresql-fanout", marks=pytest.mark.integration),
]
