"""The SQL WorkflowRepo on a real PostgreSQL server: what the contract suite cannot show with
one engine (several server processes, data at rest, migrations, outages)."""

from __future__ import annotations

import json
import random
import socket
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.engine import URL

from floww.adapters.memory.secret_box import InMemorySecretBox
from floww.adapters.sql import (
    SqlWorkflowRepo,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)
from floww.adapters.sql.schema import metadata, providers
from floww.domain.errors import InvalidInput, Unavailable
from floww.domain.model import Namespace, Provider, ProviderRef
from floww.testing.contracts.workflow_repo import execution, make_namespace, make_workflow
from tests.integration.postgres import PostgresDatabase

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SECRET = "xoxb-very-secret-token-4711"


def engine_for(url: URL) -> Engine:
    return make_engine(url.render_as_string(hide_password=False))


def run_threads(count: int, target: object) -> list[BaseException]:
    """Run ``target(n)`` in ``count`` threads; return what they raised."""
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            target(n)  # type: ignore[operator]
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return errors


def test_two_servers_claim_every_tick_exactly_once(postgres: PostgresDatabase) -> None:
    engines = [engine_for(postgres.url) for _ in range(2)]
    repos = [SqlWorkflowRepo(engine, InMemorySecretBox()) for engine in engines]
    ticks = [T0 + timedelta(minutes=5 * i) for i in range(30)]
    wins: list[tuple[int, datetime]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8, timeout=30)

    def scheduler(n: int) -> None:
        repo, order = repos[n % 2], list(ticks)
        random.Random(n).shuffle(order)
        barrier.wait()
        for tick in order:
            # each process may spell the same instant in its own zone
            spelled = tick.astimezone(timezone(timedelta(hours=n)))
            if repo.claim_cron_tick("tr_race", spelled):
                with lock:
                    wins.append((n, tick))

    try:
        assert run_threads(8, scheduler) == []
    finally:
        for engine in engines:
            engine.dispose()
    assert Counter(tick for _, tick in wins) == dict.fromkeys(ticks, 1)


def test_provider_config_is_not_stored_in_plaintext(postgres: PostgresDatabase) -> None:
    box = InMemorySecretBox(b"k" * 32)
    repo = SqlWorkflowRepo(postgres.engine, box)
    namespace = Namespace("ns_sealed", "sealed", T0)
    repo.create_namespace(namespace)
    config = {"token": SECRET, "signing_secret": "another-secret-0815"}
    repo.put_provider(Provider("pr_1", namespace.id, "slack", "default", config))

    with postgres.engine.connect() as conn:
        rows = conn.execute(text("SELECT row_to_json(p)::text FROM providers p")).scalars().all()
        sealed = bytes(conn.execute(select(providers.c.sealed_config)).scalar_one())
    assert len(rows) == 1
    for secret in config.values():
        assert secret not in rows[0]
        assert secret.encode() not in sealed
    assert json.loads(box.open(sealed)) == config
    assert repo.find_provider(namespace.id, ProviderRef("slack")) is not None

    stranger = SqlWorkflowRepo(postgres.engine, InMemorySecretBox(b"o" * 32))
    with pytest.raises(InvalidInput):
        stranger.find_provider(namespace.id, ProviderRef("slack"))


def test_migrate_an_empty_database_then_again(empty_postgres_url: URL) -> None:
    engine = engine_for(empty_postgres_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        assert current_revision(engine) == head_revision()
        repo = SqlWorkflowRepo(engine, InMemorySecretBox())
        repo.create_namespace(Namespace("ns_1", "acme", T0))
        tables = set(inspect(engine).get_table_names())

        migrate(engine)  # every start calls it: nothing changes, nothing is lost

        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) == tables
        assert repo.get_namespace("ns_1").name == "acme"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_servers_starting_together_migrate_once(empty_postgres_url: URL) -> None:
    engines = [engine_for(empty_postgres_url) for _ in range(3)]
    barrier = threading.Barrier(3, timeout=30)

    def start(n: int) -> None:
        barrier.wait()
        migrate(engines[n])

    try:
        assert run_threads(3, start) == []
        assert {current_revision(engine) for engine in engines} == {head_revision()}
    finally:
        for engine in engines:
            engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_server_is_unavailable() -> None:
    url = f"postgresql://floww:hunter2@127.0.0.1:{free_port()}/floww"
    with pytest.raises(Unavailable) as info:
        make_engine(url)
    message = str(info.value)
    assert "check that the PostgreSQL server is running" in message
    assert "hunter2" not in message

    lazy = make_engine(url, connect=False)
    repo = SqlWorkflowRepo(lazy, InMemorySecretBox())
    with pytest.raises(Unavailable):
        repo.get_namespace("ns_1")
    lazy.dispose()


def test_a_value_too_long_for_its_column_is_invalid_input(postgres: PostgresDatabase) -> None:
    repo = SqlWorkflowRepo(postgres.engine, InMemorySecretBox())
    with pytest.raises(InvalidInput):
        repo.create_namespace(Namespace("ns_" + uuid.uuid4().hex * 4, "long", T0))


def test_an_execution_update_finds_its_row_by_id_whatever_the_statistics_say(
    empty_postgres_url: URL,
) -> None:
    """The planner's statistics were taken when the workflow had one execution; thousands
    came since. The execution update (the webhook path's, as prepared for the kept
    connections) must still find its row by id, not scan the workflow's executions through
    an index on workflow_id: with a generic plan and with one made for the values."""
    from floww.adapters.sql import records
    from floww.adapters.sql.direct import Prepared
    from floww.domain.model import Workflow

    engine = engine_for(empty_postgres_url)
    try:
        migrate(engine)
        repo = SqlWorkflowRepo(engine, InMemorySecretBox())
        repo.create_namespace(Namespace("ns_1", "acme", T0))
        repo.create_workflow(Workflow("wf_1", "ns_1", "hooks", T0))
        insert = text(
            "INSERT INTO executions (id, workflow_id, trigger_id, status, received_at, event,"
            " logs, attempt) VALUES (:id, 'wf_1', 'trg_1', 'started', now(), '{}', '[]', 1)"
        )
        with engine.begin() as conn:
            conn.execute(insert, {"id": "exe_0"})
            conn.execute(text("ANALYZE executions"))
            conn.execute(insert, [{"id": f"exe_{n}"} for n in range(1, 3000)])
        update = Prepared(engine, records.UPDATE_EXECUTION)
        values = {name: None for name in update._names}
        values.update(
            k_id="exe_5",
            k_workflow_id="wf_1",
            k_status="completed",
            status="completed",
            trigger_id="trg_1",
            received_at=T0,
            logs="[]",
        )
        raw = engine.raw_connection()
        try:
            dbapi = raw.driver_connection
            assert dbapi is not None
            for mode in ("force_generic_plan", "force_custom_plan"):
                dbapi.execute(f"SET plan_cache_mode = {mode}")
                plan = dbapi.execute(
                    "EXPLAIN " + update.sql, update.params(values), prepare=True
                ).fetchall()
                dbapi.rollback()
                scans = [row[0] for row in plan if "Scan" in row[0]]
                assert len(scans) == 1 and "uq_executions_id" in scans[0], (mode, scans)
        finally:
            raw.close()
    finally:
        engine.dispose()


def test_a_change_of_a_workflow_holds_up_none_of_its_executions(
    postgres: PostgresDatabase,
) -> None:
    """A deploy locks its workflow's row until it commits; an execution of that workflow
    recorded meanwhile does not wait for it (its foreign-key check takes ``KEY SHARE``, which
    the deploy's ``NO KEY UPDATE`` lets through)."""
    engine = engine_for(postgres.url)
    repo = SqlWorkflowRepo(engine, InMemorySecretBox())
    try:
        flow = make_workflow(repo, make_namespace(repo))
        recorded = threading.Event()

        def record() -> None:
            repo.create_execution(execution(flow))
            recorded.set()

        with repo._tx.write() as conn:  # a deploy's transaction, holding the lock
            repo._lock_workflow(conn, flow.id)
            writer = threading.Thread(target=record)
            writer.start()
            assert recorded.wait(10), "the execution waited for the workflow's lock"
        writer.join(timeout=10)
    finally:
        engine.dispose()
