"""The in-process platform answers as the server's routes do, because it calls the same use
cases: the same access checks, the same token-kind checks, the same errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from floww.adapters.memory import InMemoryIdentity
from floww.adapters.memory.platform import InProcessPlatform
from floww.domain.errors import NotFound, PermissionDenied
from floww.domain.model import (
    Execution,
    ExecutionStatus,
    InvocationResult,
    Principal,
    ProviderRef,
    RuntimeTarget,
    Trigger,
    TriggerSpec,
    Workflow,
)
from floww.domain.usecases import queries
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.providers import setup_provider
from floww.domain.usecases.workflows import create_namespace, create_workflow
from floww.sdk.catalog import fields_for
from tests.support import memory_deps

TARGET = RuntimeTarget("linux/amd64", "3.12")


@pytest.fixture
def deps() -> Iterator[ServerDeps]:
    with memory_deps() as deps:
        yield deps


def _auth(deps: ServerDeps) -> InMemoryIdentity:
    assert isinstance(deps.identity, InMemoryIdentity)
    return deps.identity


def _platform(deps: ServerDeps, principal: Principal) -> InProcessPlatform:
    return InProcessPlatform(deps, principal, target=TARGET, provider_fields=fields_for)


def _workflow(deps: ServerDeps, user: Principal) -> Workflow:
    namespace = create_namespace(deps, user, "acme")
    return create_workflow(deps, user, namespace.id, "orders")


def _execution_principal(deps: ServerDeps, workflow: Workflow, execution_id: str) -> Principal:
    token = deps.tokens.issue_execution_token(
        namespace_id=workflow.namespace_id,
        workflow_id=workflow.id,
        execution_id=execution_id,
        ttl_seconds=60,
    )
    principal = deps.tokens.verify(token)
    assert principal is not None
    return principal


def _execution(deps: ServerDeps, workflow: Workflow) -> str:
    spec = TriggerSpec(ProviderRef("builtin"), "webhook", {"path": "/x", "methods": ["POST"]})
    trigger = Trigger("tr_1", workflow.id, spec)
    deps.repo.replace_triggers(workflow.id, trigger.source, [trigger], [])
    execution = Execution(
        "ex_1", workflow.id, trigger.id, ExecutionStatus.RECEIVED, deps.clock.now()
    )
    deps.repo.create_execution(execution)
    return execution.id


def _await_reply(deps: ServerDeps, workflow: Workflow, execution_id: str) -> str:
    """A webhook starts waiting for a dev reply; the execution token sent with the event."""
    deps.replies.open(execution_id)
    return deps.tokens.issue_execution_token(
        namespace_id=workflow.namespace_id,
        workflow_id=workflow.id,
        execution_id=execution_id,
        ttl_seconds=60,
    )


def test_an_execution_token_may_not_read_provider_configs(deps: ServerDeps) -> None:
    user = _auth(deps).create_user("ada@example.com")
    workflow = _workflow(deps, user)
    setup_provider(
        deps,
        user,
        namespace_id=workflow.namespace_id,
        ref=ProviderRef("slack"),
        fields=fields_for("slack"),
        config={"bot_token": "xoxb-secret", "signing_secret": "shh"},
    )
    execution = _execution_principal(deps, workflow, "ex_1")

    with pytest.raises(PermissionDenied):
        queries.provider_configs(deps, execution, workflow.namespace_id)  # the server's route
    with pytest.raises(PermissionDenied):
        _platform(deps, execution).provider_configs(workflow.namespace_id)
    assert "slack:default" in _platform(deps, user).provider_configs(workflow.namespace_id)


def test_a_reply_from_someone_without_access_is_refused(deps: ServerDeps) -> None:
    user = _auth(deps).create_user("ada@example.com")
    stranger = _auth(deps).create_user("eve@example.com")
    create_namespace(deps, stranger, "elsewhere")
    workflow = _workflow(deps, user)
    execution_id = _execution(deps, workflow)
    answer = InvocationResult(True, 1)

    token = _await_reply(deps, workflow, execution_id)
    with pytest.raises(NotFound):
        _platform(deps, stranger).reply(workflow.id, execution_id, token, answer)
    assert deps.replies.wait(execution_id, timeout=0) is None  # nothing was delivered

    token = _await_reply(deps, workflow, execution_id)
    _platform(deps, user).reply(workflow.id, execution_id, token, answer)
    assert deps.replies.wait(execution_id, timeout=1) == answer


def test_code_running_in_the_workflow_reads_neither_it_nor_its_executions(
    deps: ServerDeps,
) -> None:
    """An execution token reaches what one run needs (its namespace's KV store), not the
    workflow, its deployments or its executions: the same answer in process and on the server."""
    user = _auth(deps).create_user("ada@example.com")
    workflow = _workflow(deps, user)
    execution = _execution_principal(deps, workflow, "ex_1")

    with pytest.raises(PermissionDenied):
        queries.get_workflow(deps, execution, workflow.id)  # the server's route
    with pytest.raises(PermissionDenied):
        queries.list_executions(deps, execution, workflow.id)
    with pytest.raises(PermissionDenied):
        _platform(deps, execution).get_workflow(workflow.id)


def test_a_stranger_sees_no_workflow_runtime_or_subscription(deps: ServerDeps) -> None:
    user = _auth(deps).create_user("ada@example.com")
    stranger = _auth(deps).create_user("eve@example.com")
    workflow = _workflow(deps, user)
    platform = _platform(deps, stranger)

    with pytest.raises(NotFound):
        platform.get_workflow(workflow.id)
    with pytest.raises(NotFound):
        platform.find_workflow(workflow.namespace_id, "orders")
    with pytest.raises(NotFound):
        platform.find_runtime(workflow.namespace_id, "hash")
    with pytest.raises(PermissionDenied):
        platform.subscribe(workflow.id)
