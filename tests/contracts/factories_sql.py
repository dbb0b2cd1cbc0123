"""The SQL WorkflowRepo in the contract suite: SQLite on a fresh file per test, and
PostgreSQL on this session's throwaway database, emptied per test (skipped without a server,
failing in CI)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from floww.adapters.memory.secret_box import InMemorySecretBox
from floww.adapters.sql import SqlWorkflowRepo, make_engine, migrate
from floww.ports.workflow_repo import WorkflowRepo
from tests.integration.postgres import session_database


def sqlite_repo() -> Iterator[WorkflowRepo]:
    directory = Path(tempfile.mkdtemp(prefix="floww-sqlite-"))
    engine = make_engine(f"sqlite:///{directory / 'floww.db'}")
    try:
        migrate(engine)
        yield SqlWorkflowRepo(engine, InMemorySecretBox())
    finally:
        engine.dispose()
        shutil.rmtree(directory, ignore_errors=True)


def postgresql_repo() -> Iterator[WorkflowRepo]:
    database = session_database()
    database.reset()
    yield SqlWorkflowRepo(database.engine, InMemorySecretBox())


REPO_FACTORIES = [
    pytest.param(sqlite_repo, id="sqlite"),
    pytest.param(postgresql_repo, id="postgresql", marks=pytest.mark.integration),
]
