"""The SQL repository called from use cases run on the event loop (``run_on_loop``, as the
webhook path runs them on PostgreSQL): its reads run on threads, never on the loop's, and a
routing table built for several calls at once never stalls the loop (its build holds a lock
other calls wait for: the whole build runs on a thread). Needs the machine's PostgreSQL
server (skipped without one, failing in CI)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from floww.adapters.memory.secret_box import InMemorySecretBox
from floww.adapters.sql import SqlWorkflowRepo, make_engine
from floww.domain.usecases.routing_tables import RoutingTables
from floww.ports.loop_bridge import run_on_loop
from floww.testing.contracts.workflow_repo import make_namespace, make_workflow
from tests.integration.postgres import PostgresDatabase

pytestmark = pytest.mark.integration


@pytest.fixture
def repo(postgres: PostgresDatabase) -> Iterator[SqlWorkflowRepo]:
    engine = make_engine(postgres.url.render_as_string(hide_password=False))
    try:
        yield SqlWorkflowRepo(engine, InMemorySecretBox())
    finally:
        engine.dispose()


def _slow_reads(repo: SqlWorkflowRepo, threads: list[int]) -> None:
    """Every read transaction notes its thread and takes 50 ms more."""
    read = repo._tx.read

    def noted() -> AbstractContextManager[Any]:
        threads.append(threading.get_ident())
        time.sleep(0.05)
        return read()

    repo._tx.read = noted  # type: ignore[method-assign]


def test_reads_from_the_loop_run_on_threads(repo: SqlWorkflowRepo) -> None:
    flow = make_workflow(repo, make_namespace(repo))
    threads: list[int] = []
    _slow_reads(repo, threads)

    async def main() -> tuple[str, int, int]:
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        ticker = asyncio.create_task(ticking())
        await asyncio.sleep(0)
        found = await run_on_loop(lambda: repo.get_workflow(flow.id).name)
        ticker.cancel()
        return found, ticks, threading.get_ident()

    name, ticks, loop_thread = asyncio.run(main())
    assert name == flow.name
    assert threads and loop_thread not in threads
    assert ticks >= 2  # the loop went on while the read took its 50 ms


def test_a_table_built_for_calls_at_once_never_stalls_the_loop(repo: SqlWorkflowRepo) -> None:
    flow = make_workflow(repo, make_namespace(repo))
    tables = RoutingTables()
    _slow_reads(repo, [])
    built: list[object] = []

    def calls() -> None:
        async def main() -> list[object]:
            return await asyncio.gather(
                *(run_on_loop(tables.table, repo, flow.id) for _ in range(4))
            )

        built.extend(asyncio.run(main()))

    running = threading.Thread(target=calls, daemon=True)
    running.start()
    running.join(timeout=30)
    assert not running.is_alive(), "the event loop stalled on the table's lock"
    assert len(built) == 4 and all(t is not None for t in built)
    assert len({id(t) for t in built}) == 1  # built once, for all four
