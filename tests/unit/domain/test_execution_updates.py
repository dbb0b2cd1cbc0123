"""One rule for replacing a stored execution, on the execution itself and applied alike by
both repositories: no move to another workflow, and a final status never changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import pytest

from floww.domain.errors import Conflict, FlowwError, InvalidInput
from floww.domain.model import (
    Execution,
    ExecutionStatus,
    Namespace,
    Workflow,
)
from floww.ports.workflow_repo import WorkflowRepo
from tests.contracts.factories_memory import memory_repo
from tests.contracts.factories_sql import sqlite_repo

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RECEIVED = Execution("ex_1", "wf_1", "tr_1", ExecutionStatus.RECEIVED, T0)


def test_the_rule_lives_on_the_execution() -> None:
    started = RECEIVED.transition(ExecutionStatus.STARTED, started_at=T0)
    started.check_replaces(RECEIVED.workflow_id, RECEIVED.status)
    done = started.transition(ExecutionStatus.COMPLETED, finished_at=T0)
    done.check_replaces(started.workflow_id, started.status)
    done.check_replaces(done.workflow_id, ExecutionStatus.COMPLETED)  # logs added, say
    with pytest.raises(Conflict, match="is completed already"):
        started.check_replaces(done.workflow_id, ExecutionStatus.COMPLETED)
    with pytest.raises(InvalidInput, match="another workflow"):
        attrs.evolve(started, workflow_id="wf_2").check_replaces("wf_1", RECEIVED.status)


def _outcomes(repos: Iterator[WorkflowRepo]) -> list[str]:
    """What each update of a fixed sequence does to ``repo``: ``ok`` or the error raised."""
    outcomes: list[str] = []
    for repo in repos:
        repo.create_namespace(Namespace("ns_1", "acme", T0))
        for workflow_id in ("wf_1", "wf_2"):
            repo.create_workflow(Workflow(workflow_id, "ns_1", workflow_id, T0))
        repo.create_execution(RECEIVED)
        started = RECEIVED.transition(ExecutionStatus.STARTED, started_at=T0)
        failed = started.transition(ExecutionStatus.FAILED, finished_at=T0)
        for update in (
            attrs.evolve(started, workflow_id="wf_2"),
            started,
            failed,
            attrs.evolve(failed, result="again"),
            started,
            attrs.evolve(failed, status=ExecutionStatus.COMPLETED),
        ):
            try:
                repo.update_execution(update)
                outcomes.append("ok")
            except FlowwError as exc:
                outcomes.append(f"{type(exc).__name__}: {exc}")
    return outcomes


def test_both_repositories_apply_it_alike() -> None:
    memory, sqlite = _outcomes(memory_repo()), _outcomes(sqlite_repo())
    assert memory == sqlite
    assert memory[1:4] == ["ok", "ok", "ok"]
    assert memory[0].startswith("InvalidInput") and memory[4].startswith("Conflict")
