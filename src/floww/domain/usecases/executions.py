"""Running an execution on the active deployment, and recording its outcome."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from floww.domain.errors import Conflict, DeadlineExceeded, FlowwError, ProviderNotConfigured
from floww.domain.model import (
    Deployment,
    ErrorInfo,
    Execution,
    ExecutionContext,
    ExecutionStatus,
    Invocation,
    InvocationResult,
    ProviderRef,
    Trigger,
    Workflow,
)
from floww.domain.usecases.deps import ServerDeps
from floww.ports.workflow_repo import WorkflowRepo

__all__ = [
    "complete_execution",
    "deployment_provider_configs",
    "new_execution",
    "recover_interrupted_executions",
    "run_execution",
]


def new_execution(
    deps: ServerDeps,
    trigger: Trigger,
    event: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    triggered_by: str | None = None,
) -> Execution:
    """Durably record a RECEIVED execution; ``Conflict`` if ``dedupe_key`` was seen before."""
    execution = Execution(
        id=deps.ids.new_id("exe"),
        workflow_id=trigger.workflow_id,
        trigger_id=trigger.id,
        status=ExecutionStatus.RECEIVED,
        received_at=deps.clock.now(),
        event=event,
        dedupe_key=dedupe_key,
        triggered_by=triggered_by,
    )
    deps.repo.create_execution(execution)
    return execution


def deployment_provider_configs(
    repo: WorkflowRepo, namespace_id: str, deployment: Deployment
) -> dict[str, dict[str, str]]:
    """The configs of exactly the providers the deployment maps, keyed as the code names them.
    ``ProviderNotConfigured`` when one of them was removed since."""
    configs: dict[str, dict[str, str]] = {}
    missing: list[tuple[str, str]] = []
    for code_key, alias in deployment.provider_mapping.items():
        ref = ProviderRef.parse(code_key)
        provider = repo.find_provider(namespace_id, ProviderRef(ref.type, alias))
        if provider is None:
            missing.append((ref.type, alias))
        else:
            configs[code_key] = dict(provider.config)
    if missing:
        raise ProviderNotConfigured(missing)
    return configs


def complete_execution(
    deps: ServerDeps, execution: Execution, result: InvocationResult, *, duration_ms: float
) -> Execution:
    """Record the runtime's answer: COMPLETED with its result, or FAILED with its error."""
    now = deps.clock.now()
    if result.ok:
        final = execution.transition(
            ExecutionStatus.COMPLETED,
            result=result.result,
            logs=execution.logs + result.logs,
            finished_at=now,
            duration_ms=result.duration_ms or duration_ms,
        )
    else:
        final = execution.transition(
            ExecutionStatus.FAILED,
            error=result.error or ErrorInfo("Error", "the handler failed"),
            logs=execution.logs + result.logs,
            finished_at=now,
            duration_ms=result.duration_ms or duration_ms,
        )
    deps.repo.update_execution(final)
    return final


def recover_interrupted_executions(deps: ServerDeps, *, limit: int = 500) -> list[Execution]:
    """Mark FAILED the executions still RECEIVED or STARTED long after they could have
    finished (their server stopped mid-way): nothing stays STARTED forever. "Long after" is
    the execution timeout plus the response deadline, so live executions are never touched."""
    grace = deps.settings.execution_timeout_s + deps.settings.response_deadline_s
    cutoff = deps.clock.now() - timedelta(seconds=grace)
    recovered: list[Execution] = []
    for execution in deps.repo.list_unfinished_executions(cutoff, limit):
        info = ErrorInfo("Interrupted", "the server stopped before this execution finished")
        try:
            final = execution.transition(
                ExecutionStatus.FAILED, error=info, finished_at=deps.clock.now()
            )
            deps.repo.update_execution(final)
        except Conflict:  # finished meanwhile
            continue
        recovered.append(final)
    return recovered


def _fail(
    deps: ServerDeps, execution: Execution, status: ExecutionStatus, error: ErrorInfo, ms: float
) -> Execution:
    final = execution.transition(status, error=error, finished_at=deps.clock.now(), duration_ms=ms)
    deps.repo.update_execution(final)
    return final


def run_execution(
    deps: ServerDeps,
    execution: Execution,
    deployment: Deployment,
    trigger: Trigger,
    workflow: Workflow | None = None,
) -> Execution:
    """Invoke the deployment's runtime for a RECEIVED execution and record STARTED, then
    COMPLETED / FAILED / TIMED_OUT. Never raises for what the handler or host did: the outcome
    is in the returned execution. Pass ``workflow`` when the caller has it already."""
    if workflow is None:
        workflow = deps.repo.get_workflow(execution.workflow_id)
    started = execution.transition(
        ExecutionStatus.STARTED, started_at=deps.clock.now(), deployment_id=deployment.id
    )
    deps.repo.update_execution(started)
    t0 = deps.clock.monotonic()

    def elapsed() -> float:
        return round((deps.clock.monotonic() - t0) * 1000, 3)

    try:
        runtime = deps.repo.get_runtime(deployment.runtime_id)
        providers = deployment_provider_configs(deps.repo, workflow.namespace_id, deployment)
        token = deps.tokens.issue_execution_token(
            namespace_id=workflow.namespace_id,
            workflow_id=workflow.id,
            execution_id=execution.id,
            ttl_seconds=deps.settings.execution_token_ttl_s,
        )
        invocation = Invocation(
            code=deployment.code,
            trigger=trigger.spec,
            event=execution.event,
            providers=providers,
            execution=ExecutionContext(
                id=execution.id,
                token=token,
                api_url=deps.settings.base_url,
                deadline_ms=int(deps.settings.execution_timeout_s * 1000),
                workflow_id=workflow.id,
            ),
        )
        result = deps.host.invoke(runtime, invocation)
    except DeadlineExceeded as exc:
        info = ErrorInfo("DeadlineExceeded", str(exc))
        return _fail(deps, started, ExecutionStatus.TIMED_OUT, info, elapsed())
    except FlowwError as exc:
        info = ErrorInfo(type(exc).__name__, str(exc))
        return _fail(deps, started, ExecutionStatus.FAILED, info, elapsed())
    return complete_execution(deps, started, result, duration_ms=elapsed())
