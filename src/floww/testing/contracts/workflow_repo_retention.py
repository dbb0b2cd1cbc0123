"""Contract of ``WorkflowRepo.prune_executions`` (execution retention): every adapter passes
these unchanged. Needs the ``repo`` fixture, as the ``workflow_repo`` suite does."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from floww.domain.errors import InvalidInput, NotFound
from floww.domain.model import ExecutionStatus, LogLine, Namespace, Workflow
from floww.ports.workflow_repo import WorkflowRepo
from floww.testing.contracts.workflow_repo import T0, execution, make_namespace, make_workflow

DONE = ExecutionStatus.COMPLETED
LONG_AGO = T0 - timedelta(days=3650)


def _ids(repo: WorkflowRepo, workflow: Workflow) -> set[str]:
    return {e.id for e in repo.list_executions(workflow.id, limit=1000)}


def _add(repo: WorkflowRepo, workflow: Workflow, minutes: int, **changes: object) -> str:
    item = execution(
        workflow,
        received_at=T0 + timedelta(minutes=minutes),
        status=changes.pop("status", DONE),
        logs=(LogLine(T0, "info", "line", {}),),
        **changes,
    )
    repo.create_execution(item)
    return item.id


@pytest.fixture
def namespace_(repo: WorkflowRepo) -> Namespace:
    return make_namespace(repo)


def test_keeps_the_newest_per_workflow_and_never_unfinished_ones(
    repo: WorkflowRepo, namespace_: Namespace
) -> None:
    busy, quiet = make_workflow(repo, namespace_), make_workflow(repo, namespace_)
    busy_ids = [_add(repo, busy, m) for m in range(6)]
    running = _add(repo, busy, -10, status=ExecutionStatus.STARTED)
    received = _add(repo, busy, -9, status=ExecutionStatus.RECEIVED)
    quiet_ids = {_add(repo, quiet, m) for m in range(2)}

    assert repo.prune_executions(received_before=LONG_AGO, keep_per_workflow=3) == 3
    # the three newest stay; the unfinished ones, older still, are never deleted
    assert _ids(repo, busy) == {*busy_ids[3:], running, received}
    assert _ids(repo, quiet) == quiet_ids
    for gone in busy_ids[:3]:
        with pytest.raises(NotFound):
            repo.get_execution(gone)
    assert repo.prune_executions(received_before=LONG_AGO, keep_per_workflow=3) == 0


def test_deletes_past_the_age_across_workflows(repo: WorkflowRepo, namespace_: Namespace) -> None:
    one, two = make_workflow(repo, namespace_), make_workflow(repo, namespace_)
    old = {_add(repo, one, -120), _add(repo, two, -90)}
    old_running = _add(repo, two, -100, status=ExecutionStatus.STARTED)
    recent = {_add(repo, one, 0), _add(repo, two, 1)}
    cutoff = T0 - timedelta(minutes=60)

    assert repo.prune_executions(received_before=cutoff, keep_per_workflow=100) == 2
    assert (_ids(repo, one) | _ids(repo, two)) == recent | {old_running}
    assert not old & (_ids(repo, one) | _ids(repo, two))


def test_batches_are_bounded_and_oldest_go_first(repo: WorkflowRepo, namespace_: Namespace) -> None:
    workflow = make_workflow(repo, namespace_)
    ids = [_add(repo, workflow, m) for m in range(7)]
    assert repo.prune_executions(received_before=LONG_AGO, keep_per_workflow=2, limit=2) == 2
    assert _ids(repo, workflow) == set(ids[2:])
    assert repo.prune_executions(received_before=LONG_AGO, keep_per_workflow=2, limit=2) == 2
    assert repo.prune_executions(received_before=LONG_AGO, keep_per_workflow=2, limit=2) == 1
    assert _ids(repo, workflow) == set(ids[5:])
    assert repo.prune_executions(received_before=LONG_AGO, keep_per_workflow=2, limit=0) == 0


def test_keep_zero_empties_finished_history(repo: WorkflowRepo, namespace_: Namespace) -> None:
    workflow = make_workflow(repo, namespace_)
    for m in range(3):
        _add(repo, workflow, m, status=ExecutionStatus.FAILED)
    assert repo.prune_executions(received_before=LONG_AGO, keep_per_workflow=0) == 3
    assert _ids(repo, workflow) == set()


def test_refuses_bad_arguments(repo: WorkflowRepo) -> None:
    with pytest.raises(InvalidInput):
        repo.prune_executions(received_before=T0, keep_per_workflow=-1)
    with pytest.raises(InvalidInput):
        repo.prune_executions(received_before=T0, keep_per_workflow=1, limit=-1)
    with pytest.raises(InvalidInput):
        repo.prune_executions(received_before=datetime(2024, 1, 1), keep_per_workflow=1)
