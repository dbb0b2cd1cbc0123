"""The PostgreSQL pool after the server dropped its connections (as a database restart does):
the next transaction gets a live connection instead of failing, without a ping per
checkout; the same for the webhook path's kept DBAPI connections. Needs the machine's
PostgreSQL server (skipped without one, failing in CI)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text

from floww.adapters.sql import direct, make_engine
from floww.adapters.sql import engine as sql_engine
from floww.adapters.sql.transactions import Transactions
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
        admin = make_engine(url)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
        admin.dispose()
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
        with connections.write(1) as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            writer = cursor.fetchone()[0]
        admin = make_engine(url)
        with admin.connect() as conn:
            for pid in (reader, writer):
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
        admin.dispose()
        time.sleep(0.3)
        assert connections.scalar(backend, {}) not in (reader, writer)
        with connections.write(1) as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] not in (reader, writer)
    finally:
        engine.dispose()
