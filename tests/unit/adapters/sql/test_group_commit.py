"""Group commit on a real SQLite file: concurrent writes share transactions, each writer
returns after its write committed, and a refused write fails only its own writer."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from floww.adapters.sql import make_engine
from floww.adapters.sql.group_commit import GroupCommit
from floww.adapters.sql.transactions import Transactions
from floww.domain.errors import Conflict

metadata = MetaData()
rows = Table("rows", metadata, Column("id", Integer, primary_key=True))


def test_concurrent_writes_commit_and_errors_stay_with_their_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    metadata.create_all(engine)
    tx = Transactions(engine)
    group = GroupCommit(lambda _n: tx.write(), leaders=1)
    outcomes: dict[int, object] = {}
    start = threading.Barrier(24)

    def writer(n: int) -> None:
        start.wait()
        key = 7 if n % 8 == 0 else 100 + n  # three writers clash on one key
        try:
            outcomes[n] = group.write(
                lambda conn: conn.execute(insert(rows).values(id=key)).rowcount
            )
        except Conflict as error:
            outcomes[n] = error

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tx.read() as conn:
        stored = {row.id for row in conn.execute(select(rows.c.id))}
    engine.dispose()
    clashing = [outcomes[n] for n in (0, 8, 16)]
    assert sum(1 for o in clashing if o == 1) == 1
    assert sum(1 for o in clashing if isinstance(o, Conflict)) == 2
    assert all(outcomes[n] == 1 for n in range(24) if n % 8)
    assert stored == {7} | {100 + n for n in range(24) if n % 8}


def test_an_error_raised_by_the_write_reaches_its_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    metadata.create_all(engine)
    group = GroupCommit(lambda _n: Transactions(engine).write(), leaders=1)

    def refuse(_conn: object) -> None:
        raise Conflict("no")

    with pytest.raises(Conflict):
        group.write(refuse)
    assert group.write(lambda conn: conn.execute(insert(rows).values(id=1)).rowcount) == 1
    engine.dispose()


def test_several_leaders_commit_every_write_once(tmp_path: Path) -> None:
    """Leaders committing at once (as on PostgreSQL): every write is committed exactly once."""
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    metadata.create_all(engine)
    group = GroupCommit(lambda _n: Transactions(engine).write(), leaders=4)
    start = threading.Barrier(32)

    def writer(n: int) -> None:
        start.wait()
        group.write(lambda conn: conn.execute(insert(rows).values(id=n)).rowcount)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Transactions(engine).read() as conn:
        assert sorted(row.id for row in conn.execute(select(rows.c.id))) == list(range(32))
    engine.dispose()
