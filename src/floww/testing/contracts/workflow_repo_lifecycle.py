"""Contract of ``WorkflowRepo.deactivate_deployment`` and ``delete_workflow``: every adapter
passes these unchanged. Needs the ``repo`` fixture, as the ``workflow_repo`` suite does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from floww.domain.errors import NotFound
from floww.domain.model import DeploymentStatus, Runtime, TriggerSource
from floww.ports.workflow_repo import WorkflowRepo
from floww.testing.contracts.workflow_repo import (
    T0,
    cron_spec,
    deployment,
    execution,
    make_namespace,
    make_workflow,
    trigger,
    uid,
    webhook_for,
    webhook_spec,
)


def test_deactivate_leaves_no_active_deployment_and_keeps_history(repo: WorkflowRepo) -> None:
    workflow = make_workflow(repo, make_namespace(repo))
    first = deployment(workflow, created_at=T0)
    second = deployment(workflow, created_at=T0 + timedelta(minutes=1))
    repo.activate_deployment(first)
    repo.activate_deployment(second)
    gone = repo.deactivate_deployment(workflow.id)
    assert gone is not None and gone.id == second.id
    assert gone.status is DeploymentStatus.INACTIVE
    assert repo.find_active_deployment(workflow.id) is None
    assert [d.status for d in repo.list_deployments(workflow.id)] == [
        DeploymentStatus.INACTIVE,
        DeploymentStatus.INACTIVE,
    ]
    assert repo.deactivate_deployment(workflow.id) is None
    # an earlier deployment can be made active again
    repo.activate_deployment(repo.get_deployment(first.id))
    active = repo.find_active_deployment(workflow.id)
    assert active is not None and active.id == first.id
    assert [d.id for d in repo.list_deployments(workflow.id)] == [second.id, first.id]


def test_deactivate_unknown_workflow_raises_not_found(repo: WorkflowRepo) -> None:
    with pytest.raises(NotFound):
        repo.deactivate_deployment("wf_missing")


def test_delete_removes_the_workflow_and_everything_it_owns(repo: WorkflowRepo) -> None:
    namespace = make_namespace(repo)
    workflow = make_workflow(repo, namespace)
    neighbour = make_workflow(repo, namespace)
    own = Runtime(uid("rt"), namespace.id, uid("hash"), "img:own", created_at=T0)
    shared = Runtime(uid("rt"), namespace.id, uid("hash"), "img:shared", created_at=T0)
    repo.save_runtime(own)
    repo.save_runtime(shared)
    repo.activate_deployment(deployment(workflow, runtime_id=own.id, created_at=T0))
    repo.activate_deployment(
        deployment(workflow, runtime_id=shared.id, created_at=T0 + timedelta(minutes=1))
    )
    repo.activate_deployment(deployment(neighbour, runtime_id=shared.id, created_at=T0))
    for target in (workflow, neighbour):
        hook_trigger = trigger(target, webhook_spec("/in"))
        cron_trigger = trigger(target, cron_spec())
        repo.replace_triggers(
            target.id,
            TriggerSource.DEPLOYMENT,
            [hook_trigger, cron_trigger],
            [webhook_for(hook_trigger, "/in")],
        )
        dev_trigger = trigger(target, webhook_spec("/dev"), TriggerSource.DEV)
        repo.replace_triggers(
            target.id, TriggerSource.DEV, [dev_trigger], [webhook_for(dev_trigger, "/dev")]
        )
        repo.create_execution(execution(target))
        assert repo.claim_cron_tick(cron_trigger.id, T0)
    workflow_cron = next(
        t for t in repo.list_triggers(workflow.id) if t.spec.trigger_type == "cron"
    )

    freed = repo.delete_workflow(workflow.id)

    assert [r.id for r in freed] == [own.id]
    with pytest.raises(NotFound):
        repo.get_workflow(workflow.id)
    with pytest.raises(NotFound):
        repo.get_runtime(own.id)
    assert repo.get_runtime(shared.id) == shared
    assert repo.find_workflow(namespace.id, workflow.name) is None
    assert repo.list_triggers(workflow.id) == []
    assert repo.list_webhooks(workflow.id) == []
    assert repo.find_webhooks(workflow.id, "POST", "/in") == []
    assert repo.list_deployments(workflow.id) == []
    assert repo.find_active_deployment(workflow.id) is None
    assert repo.list_executions(workflow.id) == []
    assert workflow_cron.id not in {t.id for t in repo.list_cron_triggers()}
    # the neighbour keeps all of its own
    assert len(repo.list_triggers(neighbour.id)) == 3
    assert len(repo.list_webhooks(neighbour.id)) == 2
    assert len(repo.list_executions(neighbour.id)) == 1
    assert repo.find_active_deployment(neighbour.id) is not None
    # the name can be used again, from scratch
    again = make_workflow(repo, namespace, workflow.name)
    assert repo.list_deployments(again.id) == []


def test_delete_unknown_workflow_raises_not_found(repo: WorkflowRepo) -> None:
    with pytest.raises(NotFound):
        repo.delete_workflow("wf_missing")
