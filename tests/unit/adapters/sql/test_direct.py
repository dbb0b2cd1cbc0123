"""The webhook path's direct DBAPI statements on a real SQLite file: the values they store
are the ones SQLAlchemy Core stores, refusals are translated, a connection that failed is not
used again, and the group commit runs on them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import sqlite

from floww.adapters.sql import make_engine
from floww.adapters.sql.direct import DirectConnections, Prepared
from floww.adapters.sql.group_commit import GroupCommit
from floww.adapters.sql.transactions import Transactions
from floww.adapters.sql.types import Json, JsonOrNull, UtcDateTime
from floww.domain.errors import Conflict, InvalidInput, Unavailable

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(8), nullable=False),
    Column("at", UtcDateTime(), nullable=True),
    Column("doc", Json, nullable=True),
    Column("maybe", JsonOrNull, nullable=True),
)


def _setup(tmp_path: Path) -> tuple[Any, Transactions, DirectConnections]:
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    metadata.create_all(engine)
    tx = Transactions(engine)
    return engine, tx, DirectConnections(engine, tx.write_lock)


def test_direct_inserts_store_what_core_stores(tmp_path: Path) -> None:
    engine, tx, direct = _setup(tmp_path)
    insert = Prepared(engine, things.insert(), keys=["id", "name", "at", "doc", "maybe"])
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    values = {"name": "a", "at": at, "doc": {"k": [1, "x"]}, "maybe": None}
    with direct.write() as cursor:
        cursor.execute(insert.sql, insert.params({"id": 1, **values}))
    with tx.write() as conn:
        conn.execute(things.insert().values(id=2, **values))
    with tx.read() as conn:
        rows = {row.id: tuple(row)[1:] for row in conn.execute(select(things))}
        raw = conn.exec_driver_sql("SELECT id, at, doc, maybe FROM things ORDER BY id").all()
    engine.dispose()
    assert rows[1] == rows[2] == ("a", at, {"k": [1, "x"]}, None)
    assert raw[0][1:] == raw[1][1:]  # the same text in the database, not just the same values


def test_refusals_are_translated_and_roll_back(tmp_path: Path) -> None:
    engine, _tx, direct = _setup(tmp_path)
    insert = Prepared(engine, things.insert(), keys=["id", "name"])
    with direct.write() as cursor:
        cursor.execute(insert.sql, insert.params({"id": 1, "name": "a"}))
    with pytest.raises(Conflict), direct.write() as cursor:
        cursor.execute(insert.sql, insert.params({"id": 2, "name": "b"}))
        cursor.execute(insert.sql, insert.params({"id": 1, "name": "again"}))
    with pytest.raises((InvalidInput, Conflict)), direct.write() as cursor:
        cursor.execute(insert.sql, insert.params({"id": 3, "name": None}))
    version = Prepared(engine, select(things.c.name).where(things.c.id == 2))
    assert direct.scalar(version, {}) is None  # the refused transaction left nothing
    engine.dispose()


def test_a_failed_connection_is_not_used_again(tmp_path: Path) -> None:
    engine, _tx, direct = _setup(tmp_path)
    count = Prepared(engine, select(things.c.id).where(things.c.id == 1))
    assert direct.scalar(count, {}) is None
    [(kept, _cursor)] = direct._idle_readers
    kept.close()  # as a database restart would leave it
    with pytest.raises(Unavailable):
        direct.scalar(count, {})
    assert direct._idle_readers == []
    assert direct.scalar(count, {}) is None  # a new connection
    engine.dispose()
    assert direct._idle_readers == []  # disposing the engine closes what was kept


def test_group_commit_on_direct_connections(tmp_path: Path) -> None:
    engine, tx, direct = _setup(tmp_path)
    insert = Prepared(engine, things.insert(), keys=["id", "name"])
    group = GroupCommit(direct.write, leaders=1)
    outcomes: dict[int, object] = {}
    start = threading.Barrier(16)

    def writer(n: int) -> None:
        start.wait()
        key = 7 if n % 8 == 0 else 100 + n
        params = insert.params({"id": key, "name": str(n)})
        try:
            outcomes[n] = group.write(lambda cursor: cursor.execute(insert.sql, params).rowcount)
        except Conflict as error:
            outcomes[n] = error

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tx.read() as conn:
        stored = {row.id for row in conn.execute(select(things.c.id))}
    engine.dispose()
    assert sorted(o == 1 for o in (outcomes[0], outcomes[8])) == [False, True]
    assert stored == {7} | {100 + n for n in range(16) if n % 8}


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11))]
        ),
    )
)
def test_sqlite_timestamps_are_the_text_sqlalchemy_writes(moment: datetime) -> None:
    """The SQLite processor of ``UtcDateTime`` writes its text itself: the same text as the
    decorator's conversion followed by SQLAlchemy's own ``DATETIME`` processor."""
    dialect = sqlite.dialect()
    ours = UtcDateTime().bind_processor(dialect)
    core = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert core is not None
    expected = core(moment.astimezone(UTC).replace(tzinfo=None))
    assert ours(moment) == expected
    assert ours(None) is None
    with pytest.raises(InvalidInput):
        ours(moment.replace(tzinfo=None))


def test_the_log_is_checkpointed_by_a_thread_not_by_the_writers(tmp_path: Path) -> None:
    """The writers' connections never checkpoint (their commits never copy the log into the
    database file); the checkpointer thread does, shortly after writes."""
    from floww.adapters.sql import direct as direct_module

    engine, _tx, direct = _setup(tmp_path)
    insert = Prepared(engine, things.insert(), keys=["id", "name", "doc"])
    database = tmp_path / "d.db"
    with direct.write() as cursor:
        assert cursor.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    before = database.stat().st_size
    for n in range(300):
        with direct.write(1) as cursor:
            cursor.execute(
                insert.sql, insert.params({"id": n, "name": "x", "doc": {"k": "v" * 900}})
            )
    deadline = time.monotonic() + 5
    while database.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(direct_module.CHECKPOINT_EVERY_S / 2)
    grown = database.stat().st_size
    engine.dispose()
    assert grown > before + 200_000  # the rows reached the database file
