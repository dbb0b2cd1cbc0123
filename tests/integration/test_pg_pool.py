"""The PostgreSQL pool after the server dropped its connections (as a database restart does):
the next transaction gets a live connection instead of failing, without a ping per
checkout; the same for the webhook path's kept DBAPI connections. Needs the machine's
PostgreSQL server (skipped without one, failing in CI)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, literal, select, text

from floww.adapters.sql import direct, make_engine
from floww.adapters.sql import engine as sql_engine
from floww.adapters.sql.transactions import Transactions
from floww.domain.errors import Unavailable
from tests.integration.postgres import session_database

pytestmark = pytest.mark.integration


def test_connections_dropped_while_idle_are_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_engine, "_PG_PING_AFTER_IDLE_S", 0.2)
    url = session_database().url.render_as_string(hide_password=False)
    engine = make_engine(url)
    tx = Transactions(engine)
    try:
        with tx.read() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        _terminate(url, pid)
        time.sleep(0.3)
        with tx.read() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()


def test_direct_connections_dropped_while_idle_are_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The webhook path's kept DBAPI connections (``direct.py``) follow the same rule: a
    reader and a writer whose backends were terminated while idle are replaced on next use."""
    monkeypatch.setattr(direct, "PING_AFTER_IDLE_S", 0.2)
    url = session_database().url.render_as_string(hide_password=False)
    engine = make_engine(url)
    connections = direct.DirectConnections(engine, None)
    backend = direct.Prepared(engine, select(func.pg_backend_pid()))
    try:
        reader = connections.scalar(backend, {})
        writer = _writer_pid(connections)
        _terminate(url, reader, writer)
        time.sleep(0.3)
        assert connections.scalar(backend, {}) not in (reader, writer)
        assert _writer_pid(connections) not in (reader, writer)
    finally:
        engine.dispose()


def test_a_pool_connection_pinged_at_checkout_serves_the_direct_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pool pings a connection idle past its age at checkout; the ping must leave no
    transaction behind, or the kept connection cannot be switched to autocommit."""
    monkeypatch.setattr(sql_engine, "_PG_PING_AFTER_IDLE_S", 0.2)
    url = session_database().url.render_as_string(hide_password=False)
    engine = make_engine(url)  # opens one connection and gives it back to the pool
    connections = direct.DirectConnections(engine, None)
    one = direct.Prepared(engine, select(literal(1)))
    try:
        time.sleep(0.3)
        assert connections.scalar(one, {}) == 1
        time.sleep(0.3)
        with connections.write(1) as cursor:
            cursor.execute("SELECT 1")
    finally:
        engine.dispose()


def test_after_one_kept_connection_failed_the_idle_ones_are_not_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database restart drops every connection: one failure discards the idle ones, so
    the next request gets a fresh connection instead of failing in turn."""
    monkeypatch.setattr(direct, "PING_AFTER_IDLE_S", 3600.0)  # no ping: the failure shows
    url = session_database().url.render_as_string(hide_password=False)
    engine = make_engine(url)
    connections = direct.DirectConnections(engine, None)
    backend = direct.Prepared(engine, select(func.pg_backend_pid()))
    try:
        reader = connections.scalar(backend, {})
        writer = _writer_pid(connections)
        _terminate(url, reader, writer)
        time.sleep(0.1)
        with pytest.raises(Unavailable):
            connections.scalar(backend, {})  # the reader was dropped: this one fails
        assert _writer_pid(connections) != writer  # the idle writer was discarded with it
    finally:
        engine.dispose()


def _terminate(url: str, *pids: object) -> None:
    """End these backends from another connection, as a database restart would."""
    admin = make_engine(url)
    try:
        with admin.connect() as conn:
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
    finally:
        admin.dispose()


def _writer_pid(connections: direct.DirectConnections) -> object:
    """The backend of the kept connection a write gets."""
    with connections.write(1) as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]
