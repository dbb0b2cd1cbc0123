"""The SQL WorkflowRepo's engine, migrations and storage on SQLite files under tmp_path."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from floww.adapters.memory.secret_box import InMemorySecretBox
from floww.adapters.sql import (
    SqlWorkflowRepo,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)
from floww.adapters.sql.schema import metadata
from floww.domain.errors import InvalidInput, Unavailable
from floww.domain.model import Namespace, Provider, ProviderRef

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'floww.db'}")
    yield made
    made.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "no url at all",
        "mysql://user@localhost/floww",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+aiosqlite:///x.db",
        "postgresql+psycopg2://user@localhost/floww",
    ],
)
def test_bad_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput):
        make_engine(url, connect=False)


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@db.example/floww", "postgres://u@db.example/floww"],
)
def test_postgresql_urls_use_psycopg_3(url: str) -> None:
    engine = make_engine(url, connect=False)
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.dialect.driver == "psycopg"


def test_sqlite_is_configured_for_a_threaded_server(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000


def test_the_database_directory_is_created(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'home' / 'state' / 'floww.db'}")
    engine.dispose()
    assert (tmp_path / "home" / "state" / "floww.db").exists()


def test_a_path_that_cannot_hold_a_database_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(Unavailable):
        make_engine(f"sqlite:///{tmp_path / 'a-file' / 'floww.db'}")


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "floww.db").write_bytes(b"this is no sqlite database, just text " * 100)
    with pytest.raises(Unavailable) as info:
        make_engine(f"sqlite:///{tmp_path / 'floww.db'}")
    assert "check that" in str(info.value)


def test_an_unmigrated_database_is_unavailable(engine: Engine) -> None:
    repo = SqlWorkflowRepo(engine, InMemorySecretBox())
    with pytest.raises(Unavailable):
        repo.get_namespace("ns_1")


def test_migrate_an_empty_database_then_again(engine: Engine) -> None:
    assert current_revision(engine) is None
    migrate(engine)
    assert current_revision(engine) == head_revision()
    repo = SqlWorkflowRepo(engine, InMemorySecretBox())
    repo.create_namespace(Namespace("ns_1", "acme", T0))
    tables = set(inspect(engine).get_table_names())

    migrate(engine)

    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) == tables
    assert repo.get_namespace("ns_1").name == "acme"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_migrations_create_exactly_the_schema(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_provider_configs_never_reach_the_file_in_plaintext(engine: Engine, tmp_path: Path) -> None:
    migrate(engine)
    repo = SqlWorkflowRepo(engine, InMemorySecretBox())
    repo.create_namespace(Namespace("ns_1", "acme", T0))
    secret = "ghp_plaintext-must-not-appear-0042"
    repo.put_provider(Provider("pr_1", "ns_1", "github", "default", {"token": secret}))
    assert repo.find_provider("ns_1", ProviderRef("github")) is not None
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("floww.db*"))
    assert b"acme" in stored  # the files hold the data ...
    assert secret.encode() not in stored  # ... but not the secret


def test_two_engines_on_one_file_claim_each_tick_once(engine: Engine, tmp_path: Path) -> None:
    migrate(engine)
    other = make_engine(f"sqlite:///{tmp_path / 'floww.db'}")
    repos = [SqlWorkflowRepo(e, InMemorySecretBox()) for e in (engine, other)]
    ticks = [T0 + timedelta(minutes=i) for i in range(20)]
    wins: list[datetime] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6, timeout=30)

    def scheduler(n: int) -> None:
        try:
            barrier.wait()
            for tick in ticks if n % 2 else reversed(ticks):
                if repos[n % 2].claim_cron_tick("tr_1", tick):
                    wins.append(tick)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=scheduler, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    other.dispose()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert Counter(wins) == dict.fromkeys(ticks, 1)


def test_naive_times_are_invalid_input(engine: Engine) -> None:
    migrate(engine)
    repo = SqlWorkflowRepo(engine, InMemorySecretBox())
    with pytest.raises(InvalidInput):
        repo.claim_cron_tick("tr_1", datetime(2024, 5, 1, 12, 0))
