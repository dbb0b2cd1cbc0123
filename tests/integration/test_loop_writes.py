"""The webhook path's PostgreSQL writes made by the event loop (``loop_writes.py``), on the
machine's PostgreSQL server (skipped without one, failing in CI): writes made together share
one transaction, a refused write (or commit, or value) fails only its writer, a write whose
caller stopped waiting is not sent, a dropped connection or a failed connect fails what was
in flight and is replaced, each loop's connections end with it, and closing refuses what
comes after."""

from __future__ import annotations

import asyncio
import threading
import time
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

from floww.adapters.sql import loop_writes
from floww.adapters.sql.direct import Prepared
from floww.adapters.sql.loop_writes import LoopWrites
from floww.domain.errors import Conflict, InvalidInput, Unavailable
from tests.integration.postgres import fresh_engine

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
    with fresh_engine(_metadata) as engine:
        yield engine


def _writes(engine: Engine, *, durable: bool = True) -> tuple[LoopWrites, list[Prepared]]:
    statements = [Prepared(engine, s) for s in (_INSERT, _TELLING, _SLOW)]
    return LoopWrites(engine, statements, durable=durable), statements


def _labels_checked_at_commit(engine: Engine) -> None:
    """A label may be used once, checked when the transaction commits (deferred)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "ALTER TABLE rows ADD CONSTRAINT label_once UNIQUE (label)"
                " DEFERRABLE INITIALLY DEFERRED"
            )
        )


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
    assert _backends(engine) == 1  # only this one: the loop's connections were closed


def _rows_of_backend(engine: Engine, row_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT backend FROM rows WHERE id = :i"), {"i": row_id}).scalar()
        )


def _terminate(engine: Engine, backend: int) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        conn.commit()


def test_a_refused_commit_fails_its_writers_and_spares_the_others(engine: Engine) -> None:
    """A constraint checked at commit (deferred) refuses the transaction after every statement
    succeeded: the writes of that group are sent again alone, and only the offending one
    fails."""
    _labels_checked_at_commit(engine)
    writes, (plain, _telling, _slow) = _writes(engine)

    async def main() -> list[object]:
        alone = await asyncio.gather(
            writes.write(plain, {"id": 1, "label": "a"}), return_exceptions=True
        )
        together = await asyncio.gather(
            writes.write(plain, {"id": 2, "label": "a"}),  # the label is taken: at commit
            writes.write(plain, {"id": 3, "label": "c"}),
            return_exceptions=True,
        )
        single = await asyncio.gather(
            writes.write(plain, {"id": 4, "label": "c"}), return_exceptions=True
        )
        return [*alone, *together, *single]

    first, twin, third, late_twin = asyncio.run(main())
    assert (first, third) == (1, 1)
    assert isinstance(twin, Conflict)
    assert isinstance(late_twin, Conflict)  # a group of one: its commit's refusal is its own
    assert sorted(_rows_of(engine)) == [1, 3]


def test_a_value_that_cannot_be_sent_fails_only_its_writer(engine: Engine) -> None:
    writes, (plain, _telling, _slow) = _writes(engine)

    async def main() -> list[object]:
        return await asyncio.gather(
            writes.write(plain, {"id": 1, "label": "a"}),
            writes.write(plain, {"id": 2, "label": "n\x00l"}),  # NUL: no text column takes it
            writes.write(plain, {"id": 3, "label": "c"}),
            return_exceptions=True,
        )

    first, bad, third = asyncio.run(main())
    assert (first, third) == (1, 1)
    assert isinstance(bad, InvalidInput)
    assert sorted(_rows_of(engine)) == [1, 3]


def test_a_write_whose_caller_stopped_waiting_is_not_sent(engine: Engine) -> None:
    writes, (plain, _telling, _slow) = _writes(engine)

    async def main() -> None:
        given_up = asyncio.create_task(writes.write(plain, {"id": 1, "label": "a"}))
        kept = asyncio.create_task(writes.write(plain, {"id": 2, "label": "b"}))
        await asyncio.sleep(0)  # both queued, not sent yet
        given_up.cancel()
        assert await kept == 1

    asyncio.run(main())
    assert sorted(_rows_of(engine)) == [2]


def test_a_failed_connect_fails_the_waiting_writes_and_the_next_one_connects(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes, (plain, _telling, _slow) = _writes(engine)
    real = loop_writes._connect
    attempts: list[int] = []

    def failing_once(shared: LoopWrites) -> object:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("no thread to connect on")  # not a database error
        return real(shared)

    monkeypatch.setattr(loop_writes, "_connect", failing_once)

    async def main() -> tuple[object, int]:
        failed = await asyncio.gather(
            writes.write(plain, {"id": 1, "label": "a"}), return_exceptions=True
        )
        later = await asyncio.wait_for(writes.write(plain, {"id": 2, "label": "b"}), 10)
        return failed[0], later

    failed, later = asyncio.run(main())
    assert isinstance(failed, Unavailable)
    assert later == 1
    assert sorted(_rows_of(engine)) == [2]


def test_the_connections_of_a_loop_that_ended_are_closed(engine: Engine) -> None:
    writes, (plain, _telling, _slow) = _writes(engine)
    for i in range(4):  # four loops one after the other, as test clients make them
        assert asyncio.run(writes.write(plain, {"id": i, "label": "x"})) == 1
    assert _backends(engine, at_most=2) <= 2  # this and the last loop's; the others closed
    writes.close()
    assert _backends(engine) == 1


def _backends(engine: Engine, *, at_most: int = 1) -> int:
    """The backends on the test database (this query's included), waited for (up to 5 s)
    to come down to ``at_most``: a closed connection's backend takes a moment to go."""
    deadline = time.monotonic() + 5
    while True:
        with engine.connect() as conn:
            found = int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND backend_type = 'client backend'"
                    )
                ).scalar()
            )
        if found <= at_most or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_refusals_in_a_group_are_sorted_out_write_by_write_in_one_send(engine: Engine) -> None:
    """A group with a key conflict and a commit-time conflict among good writes: each is
    sent again as its own transaction (all in one send) and each writer gets its own answer."""
    _labels_checked_at_commit(engine)
    writes, (plain, _telling, _slow) = _writes(engine)

    async def main() -> list[object]:
        await writes.write(plain, {"id": 1, "label": "taken"})
        return await asyncio.gather(
            writes.write(plain, {"id": 2, "label": "b"}),
            writes.write(plain, {"id": 1, "label": "x"}),  # the key is taken: at once
            writes.write(plain, {"id": 3, "label": "taken"}),  # the label is: at commit
            writes.write(plain, {"id": 4, "label": "d"}),
            return_exceptions=True,
        )

    good, key_twin, label_twin, other = asyncio.run(main())
    assert (good, other) == (1, 1)
    assert isinstance(key_twin, Conflict) and isinstance(label_twin, Conflict)
    assert {i: label for i, (label, _xid) in _rows_of(engine).items()} == {
        1: "taken",
        2: "b",
        4: "d",
    }


def test_the_next_group_is_sent_behind_the_one_in_flight(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write made while a young group is in flight goes out at once on the same connection
    (the server takes it up as soon as the first committed), as a transaction of its own."""
    # the group in flight stays young however slowly this machine runs the test
    monkeypatch.setattr(loop_writes, "BEHIND_S", 30.0)
    monkeypatch.setattr(loop_writes, "SPARE_AFTER_S", 30.0)
    writes, (plain, _telling, slow) = _writes(engine)

    async def main() -> tuple[int, int]:
        await writes.write(plain, {"id": 1, "label": "a"})  # the connection is open
        first = asyncio.create_task(writes.write(slow, {"id": 2, "label": "s", "seconds": 1}))
        await asyncio.sleep(0)  # the first group is sent at the end of this turn
        await asyncio.sleep(0)
        second = asyncio.create_task(writes.write(plain, {"id": 3, "label": "b"}))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        pipeline = writes._pipelines[asyncio.get_running_loop()]
        in_flight = [len(c.segments) for c in [*pipeline._busy, *pipeline._free]]
        await asyncio.gather(first, second)
        return len(in_flight), max(in_flight)

    connections, groups = asyncio.run(main())
    assert (connections, groups) == (1, 2)
    rows = _rows_of(engine)
    assert sorted(rows) == [1, 2, 3]
    assert rows[2][1] != rows[3][1]  # two transactions


def test_a_stalled_group_hands_the_next_writes_to_a_spare_closed_afterwards(
    engine: Engine,
) -> None:
    """A write stuck for a second (here a sleep; a lock in life) holds up the writes made
    meanwhile for about ``SPARE_AFTER_S`` only: they go to a second connection, which is
    closed once the first is free again."""
    writes, (plain, _telling, slow) = _writes(engine)

    async def main() -> tuple[float, int]:
        await writes.write(plain, {"id": 1, "label": "a"})  # the first connection
        stuck = asyncio.create_task(writes.write(slow, {"id": 2, "label": "s", "seconds": 1}))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await asyncio.gather(*(writes.write(plain, {"id": i, "label": "m"}) for i in (3, 4, 5)))
        waited = time.monotonic() - started
        await stuck
        await writes.write(plain, {"id": 6, "label": "z"})  # the first is free: the spare goes
        return waited, await asyncio.to_thread(_backends, engine, at_most=2)

    waited, backends = asyncio.run(main())
    assert waited < 0.8  # not behind the stuck second
    assert backends == 2  # this query's and the first connection: the spare was closed
    assert sorted(_rows_of(engine)) == [1, 2, 3, 4, 5, 6]
