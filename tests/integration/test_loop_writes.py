"""The webhook path's PostgreSQL writes made by the event loop (``loop_writes.py``), on the
machine's PostgreSQL server (skipped without one, failing in CI): writes made together share
one transaction, a refused write fails only its writer, a dropped connection fails what was
in flight and is replaced, and closing refuses what comes after."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
)

from floww.adapters.sql import make_engine
from floww.adapters.sql.direct import Prepared
from floww.adapters.sql.loop_writes import LoopWrites
from floww.domain.errors import Conflict, InvalidInput, Unavailable
from tests.integration.postgres import fresh_database

pytestmark = pytest.mark.integration

_metadata = MetaData()
_rows = Table(
    "rows",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("label", String(8)),
    Column("backend", Integer),
    Column("commit_mode", String(8)),
)
# a plain insert; one that names the backend and its synchronous_commit; one that sleeps first
_INSERT = insert(_rows).values(id=bindparam("id"), label=bindparam("label"))
_TELLING = insert(_rows).values(
    id=bindparam("id"),
    backend=func.pg_backend_pid(),
    commit_mode=func.current_setting("synchronous_commit"),
)
_SLOW = insert(_rows).from_select(
    ["id", "label"],
    select(bindparam("id", type_=Integer), bindparam("label", type_=String)).select_from(
        func.pg_sleep(bindparam("seconds", type_=Integer))
    ),
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with fresh_database() as url:
        engine = make_engine(url.render_as_string(hide_password=False))
        _metadata.create_all(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def _writes(engine: Engine, *, durable: bool = True) -> tuple[LoopWrites, list[Prepared]]:
    statements = [Prepared(engine, s) for s in (_INSERT, _TELLING, _SLOW)]
    return LoopWrites(engine, statements, durable=durable), statements


def _rows_of(engine: Engine) -> dict[int, tuple[str | None, int]]:
    """id -> (label, the transaction that wrote it)."""
    with engine.connect() as conn:
        found = conn.execute(text("SELECT id, label, xmin::text::bigint FROM rows")).all()
    return {row[0]: (row[1], row[2]) for row in found}


def test_writes_made_together_commit_in_one_transaction(engine: Engine) -> None:
    writes, (plain, _telling, _slow) = _writes(engine)

    async def main() -> list[int]:
        return await asyncio.gather(
            *(writes.write(plain, {"id": i, "label": f"n{i}"}) for i in range(20))
        )

    assert asyncio.run(main()) == [1] * 20
    rows = _rows_of(engine)
    assert sorted(rows) == list(range(20))
    assert len({xid for _label, xid in rows.values()}) == 1  # one transaction, one commit


def test_a_refused_write_fails_only_its_writer(engine: Engine) -> None:
    writes, (plain, _telling, _slow) = _writes(engine)

    async def main() -> list[object]:
        values = [
            {"id": 1, "label": "a"},
            {"id": 1, "label": "twin"},  # the same key: a conflict
            {"id": 2, "label": "far too long"},  # longer than the column: refused
            {"id": 3, "label": "c"},
        ]
        return await asyncio.gather(
            *(writes.write(plain, v) for v in values), return_exceptions=True
        )

    first, twin, long, third = asyncio.run(main())
    assert (first, third) == (1, 1)
    assert isinstance(twin, Conflict)
    assert isinstance(long, InvalidInput)
    assert {i: label for i, (label, _xid) in _rows_of(engine).items()} == {1: "a", 3: "c"}


def test_a_dropped_connection_fails_its_writes_and_is_replaced(engine: Engine) -> None:
    writes, (_plain, telling, slow) = _writes(engine)

    async def main() -> tuple[object, object]:
        await writes.write(telling, {"id": 1})
        backend = _rows_of_backend(engine, 1)
        in_flight = asyncio.create_task(writes.write(slow, {"id": 2, "label": "x", "seconds": 5}))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(_terminate, engine, backend)
        failed = await asyncio.gather(in_flight, return_exceptions=True)
        await writes.write(telling, {"id": 3})
        return failed[0], _rows_of_backend(engine, 3) != backend

    failed, replaced = asyncio.run(main())
    assert isinstance(failed, Unavailable)
    assert replaced
    assert 2 not in _rows_of(engine)


def test_a_connection_dropped_while_idle_is_replaced(engine: Engine) -> None:
    writes, (_plain, telling, _slow) = _writes(engine)

    async def main() -> int:
        await writes.write(telling, {"id": 1})
        await asyncio.to_thread(_terminate, engine, _rows_of_backend(engine, 1))
        await asyncio.sleep(0.3)
        return await writes.write(telling, {"id": 2})

    assert asyncio.run(main()) == 1
    assert _rows_of_backend(engine, 2) != _rows_of_backend(engine, 1)


def test_each_event_loop_has_its_own_connections_and_close_ends_them(engine: Engine) -> None:
    writes, (plain, telling, _slow) = _writes(engine, durable=False)
    assert asyncio.run(writes.write(telling, {"id": 1})) == 1
    assert asyncio.run(writes.write(telling, {"id": 2})) == 1  # a new loop: new connections
    with engine.connect() as conn:
        modes = conn.execute(text("SELECT commit_mode FROM rows ORDER BY id")).scalars().all()
    assert modes == ["off", "off"]  # durable=False: these writes skip the flush wait

    loop = asyncio.new_event_loop()
    running = threading.Thread(target=loop.run_forever)
    running.start()
    try:
        done = asyncio.run_coroutine_threadsafe(writes.write(plain, {"id": 3, "label": "c"}), loop)
        assert done.result(timeout=10) == 1
        writes.close()  # from another thread than the loop's
        later = asyncio.run_coroutine_threadsafe(writes.write(plain, {"id": 4, "label": "d"}), loop)
        with pytest.raises(Unavailable):
            later.result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        running.join(timeout=10)
        loop.close()
    with engine.connect() as conn:
        ours = conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        ).scalar()
    assert ours == 1  # only this one: the loop's connections were closed


def _rows_of_backend(engine: Engine, row_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT backend FROM rows WHERE id = :i"), {"i": row_id}).scalar()
        )


def _terminate(engine: Engine, backend: int) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        conn.commit()
