"""The retry fields of an execution (attempt, retry_of, retry_delay_s) and the CANCELLED status
round-trip through the SQL repository on SQLite and PostgreSQL, and a retry stored without an
owner is found by the recovery sweep only once its backoff has ended."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from floww.adapters.memory.secret_box import InMemorySecretBox
from floww.adapters.sql import SqlWorkflowRepo, make_engine, migrate
from floww.domain.model import Execution, ExecutionStatus, Namespace, Workflow
from tests.integration.postgres import PostgresDatabase

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlWorkflowRepo]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'floww.db'}")
        migrate(engine)
    else:
        database: PostgresDatabase = request.getfixturevalue("postgres")
        engine = database.engine
    made = SqlWorkflowRepo(engine, InMemorySecretBox())
    made.create_namespace(Namespace("ns_1", "ns", NOW))
    made.create_workflow(Workflow("wf_1", "ns_1", "wf", NOW))
    yield made
    if request.param == "sqlite":
        engine.dispose()


def test_retry_fields_and_cancelled_round_trip(repo: SqlWorkflowRepo) -> None:
    due = NOW + timedelta(seconds=4)
    retry = Execution(
        id="exe_2",
        workflow_id="wf_1",
        trigger_id="trg_1",
        status=ExecutionStatus.RECEIVED,
        received_at=NOW,
        event={"n": 1},
        lease_expires_at=due,
        attempt=2,
        retry_of="exe_1",
        retry_delay_s=4.0,
    )
    repo.create_execution(retry)
    stored = repo.get_execution("exe_2")
    assert (stored.attempt, stored.retry_of, stored.retry_delay_s) == (2, "exe_1", 4.0)
    assert stored.owner is None

    assert repo.list_lapsed_executions(due - timedelta(seconds=1)) == []
    assert [x.id for x in repo.list_lapsed_executions(due + timedelta(seconds=1))] == ["exe_2"]

    cancelled = stored.transition(ExecutionStatus.CANCELLED, finished_at=NOW)
    repo.update_execution(cancelled)
    assert repo.get_execution("exe_2").status is ExecutionStatus.CANCELLED
    assert repo.list_lapsed_executions(due + timedelta(seconds=1)) == []
