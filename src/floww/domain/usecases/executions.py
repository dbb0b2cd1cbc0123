"""Recording executions, queueing them for a worker, running them on the active deployment
and recording their outcome.

Every execution is created with a lease held by this server process (``deps.owner_id``),
which renews it while the execution is unfinished (``floww.entrypoints.leases``); the
recovery sweep (``recovery.py``) only acts on executions whose lease lapsed.

A run nobody waits for (a provider delivery, a cron tick, a rerun, a recovered run) is
started *detached* when the function host can (``FunctionHost.start``): the execution stays
STARTED, its lease goes to ``DETACHED_OWNER`` (which nobody renews) until its deadline (the
execution timeout plus one lease's time), and the runtime reports the answer itself
(``reports.py``). A report that never comes lets the lease lapse; the sweep then ends the
execution TIMED_OUT."""

from __future__ import annotations

import contextlib
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from typing import Any

import attrs

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
    Runtime,
    Trigger,
    Workflow,
)
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.retries import schedule_retry
from floww.ports.dispatcher import Slot
from floww.ports.workflow_repo import WorkflowRepo

__all__ = [
    "DETACHED_OWNER",
    "PreparedRun",
    "RoutesMoved",
    "complete_execution",
    "deployment_provider_configs",
    "detached_deadline",
    "finish_run",
    "lease_until",
    "new_execution",
    "outcome",
    "prepare_run",
    "queue_execution",
    "retry_if_asked",
    "run_execution",
    "run_with_retry",
]


class RoutesMoved(Exception):
    """The workflow's routes changed after the routing table at hand was read: route the
    request again with a fresh one (nothing was recorded)."""


# The lease holder of an execution a function host runs detached: no process renews for it.
DETACHED_OWNER = "function-host"


def new_execution(
    deps: ServerDeps,
    trigger: Trigger,
    event: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    triggered_by: str | None = None,
    queued_for: Deployment | None = None,
    started: bool = False,
    routes_version: int | None = None,
) -> Execution:
    """Durably record a RECEIVED execution (QUEUED for ``queued_for`` when the caller holds a
    dispatcher slot for it; STARTED with ``started``, when its run begins now: that slot holds
    a lane, or a dev session answers it), leased to this process; ``Conflict`` if
    ``dedupe_key`` was seen before. With ``routes_version`` (the version of the routing table
    that chose the trigger) nothing is recorded when the workflow's routes moved since:
    ``RoutesMoved``."""
    now = deps.clock.now()
    status = (
        ExecutionStatus.STARTED
        if started
        else ExecutionStatus.RECEIVED
        if queued_for is None
        else ExecutionStatus.QUEUED
    )
    execution = Execution(
        id=deps.ids.new_id("exe"),
        workflow_id=trigger.workflow_id,
        trigger_id=trigger.id,
        status=status,
        started_at=now if status is ExecutionStatus.STARTED else None,
        received_at=now,
        event=event,
        deployment_id=None if queued_for is None else queued_for.id,
        dedupe_key=dedupe_key,
        triggered_by=triggered_by,
        owner=deps.owner_id,
        lease_expires_at=lease_until(deps),
    )
    if routes_version is None:
        deps.repo.create_execution(execution)
    elif not deps.repo.create_execution(execution, routes_version=routes_version):
        raise RoutesMoved(trigger.workflow_id)
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


def lease_until(deps: ServerDeps) -> datetime:
    """When a lease taken or renewed now lapses."""
    return deps.clock.now() + timedelta(seconds=deps.settings.lease_ttl_s)


def detached_deadline(deps: ServerDeps) -> datetime:
    """When the lease of an execution started detached now lapses: its timeout plus a lease's
    time for the report to travel."""
    margin = deps.settings.execution_timeout_s + deps.settings.lease_ttl_s
    return deps.clock.now() + timedelta(seconds=margin)


def queue_execution(
    deps: ServerDeps,
    slot: Slot,
    execution: Execution,
    deployment: Deployment,
    trigger: Trigger,
    workflow: Workflow | None = None,
    runtime: Runtime | None = None,
    *,
    detached: bool = False,
) -> Future[Execution]:
    """Hand a QUEUED execution to the dispatcher through the ``slot`` reserved for it. A run
    that fails is followed by its next attempt when the trigger's retry policy asks for one
    (``retries.py``). With ``detached`` (nobody waits for the answer) the run is started
    detached when the host can, and the future gives the execution as started."""

    return slot.submit(
        lambda: run_with_retry(
            deps, execution, deployment, trigger, workflow, runtime, detached=detached
        )
    )


def run_with_retry(
    deps: ServerDeps,
    execution: Execution,
    deployment: Deployment,
    trigger: Trigger,
    workflow: Workflow | None = None,
    runtime: Runtime | None = None,
    *,
    detached: bool = False,
) -> Execution:
    """``run_execution`` on the caller's thread (a lane of the workflow), then its next attempt
    scheduled when the trigger's retry policy asks for one."""
    final = run_execution(
        deps, execution, deployment, trigger, workflow, runtime, detached=detached
    )
    retry_if_asked(deps, final, trigger)
    return final


def retry_if_asked(deps: ServerDeps, final: Execution, trigger: Trigger) -> None:
    """Schedule the next attempt of a finished run when the trigger's retry policy asks.
    The attempt's outcome is recorded and stays the answer; a retry that could not be
    recorded (the database went away) is lost, and the attempt shows it failed."""
    with contextlib.suppress(FlowwError):
        schedule_retry(deps, final, trigger)


def outcome(
    deps: ServerDeps, future: Future[Execution], execution_id: str, timeout: float | None = None
) -> Execution:
    """The execution as its run left it, or as stored when the wait ran out or the run was
    cancelled (the server is stopping: the execution stays QUEUED for the next process)."""
    try:
        return future.result(timeout=timeout)
    except (FutureTimeout, CancelledError):
        return deps.repo.get_execution(execution_id)


def _fail(
    deps: ServerDeps, execution: Execution, status: ExecutionStatus, error: ErrorInfo, ms: float
) -> Execution:
    final = execution.transition(status, error=error, finished_at=deps.clock.now(), duration_ms=ms)
    return _record_final(deps, final)


def _record_final(deps: ServerDeps, final: Execution) -> Execution:
    """Store the outcome; when the execution was settled meanwhile (marked interrupted by a
    stopping server), that record stands and is returned."""
    try:
        deps.repo.update_execution(final)
    except Conflict:
        return deps.repo.get_execution(final.id)
    return final


@attrs.frozen
class PreparedRun:
    """A run ready for the function host (``prepare_run``): the execution as recorded
    STARTED, the runtime and the invocation, and when its clock started (``clock.monotonic``)."""

    started: Execution
    runtime: Runtime
    invocation: Invocation
    t0: float


def run_execution(
    deps: ServerDeps,
    execution: Execution,
    deployment: Deployment,
    trigger: Trigger,
    workflow: Workflow | None = None,
    runtime: Runtime | None = None,
    *,
    detached: bool = False,
) -> Execution:
    """Invoke the deployment's runtime for a RECEIVED or QUEUED execution and record STARTED
    (the deadline starts now), then COMPLETED / FAILED / TIMED_OUT. Never raises for what the
    handler or host did: the outcome is in the returned execution; one that finished meanwhile
    (recovered, say) is returned as stored, not run. Pass ``workflow`` (and the deployment's
    ``runtime``) when the caller has them. With ``detached``, a host that can start the run
    without waiting does so: the execution is returned STARTED, its lease handed to
    ``DETACHED_OWNER`` until ``detached_deadline``, and the runtime reports the outcome."""
    prepared = prepare_run(deps, execution, deployment, trigger, workflow, runtime)
    if isinstance(prepared, Execution):
        return prepared
    try:
        if detached and deps.host.start(prepared.runtime, prepared.invocation):
            deps.repo.hand_over_lease(
                execution.id, deps.owner_id, DETACHED_OWNER, detached_deadline(deps)
            )
            return deps.repo.get_execution(execution.id)
        result: InvocationResult | FlowwError = deps.host.invoke(
            prepared.runtime, prepared.invocation
        )
    except FlowwError as exc:
        result = exc
    return finish_run(deps, prepared, result)


def prepare_run(
    deps: ServerDeps,
    execution: Execution,
    deployment: Deployment,
    trigger: Trigger,
    workflow: Workflow | None = None,
    runtime: Runtime | None = None,
) -> PreparedRun | Execution:
    """The part of ``run_execution`` before the host: STARTED recorded (unless it was when
    received), the runtime, the mapped providers' configs and the execution's token. An
    ``Execution`` instead when there is nothing to run: one settled meanwhile (as stored), or
    one that failed before its handler could start (recorded FAILED)."""
    if workflow is None:
        workflow = deps.repo.get_workflow(execution.workflow_id)
    t0 = deps.clock.monotonic()
    if execution.status is ExecutionStatus.STARTED and execution.deployment_id == deployment.id:
        started = execution  # recorded as started when it was received (its lane was free)
    else:
        started = execution.transition(
            ExecutionStatus.STARTED, started_at=deps.clock.now(), deployment_id=deployment.id
        )
        try:
            deps.repo.update_execution(started)
        except Conflict:
            return deps.repo.get_execution(execution.id)
    try:
        if runtime is None or runtime.id != deployment.runtime_id:
            runtime = deps.repo.get_runtime(deployment.runtime_id)
        providers = deployment_provider_configs(deps.repo, workflow.namespace_id, deployment)
        token = deps.tokens.issue_execution_token(
            namespace_id=workflow.namespace_id,
            workflow_id=workflow.id,
            execution_id=execution.id,
            ttl_seconds=deps.settings.execution_token_ttl_s,
        )
    except FlowwError as exc:
        info = ErrorInfo(type(exc).__name__, str(exc))
        elapsed = round((deps.clock.monotonic() - t0) * 1000, 3)
        return _fail(deps, started, ExecutionStatus.FAILED, info, elapsed)
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
    return PreparedRun(started, runtime, invocation, t0)


def finish_run(
    deps: ServerDeps, prepared: PreparedRun, result: InvocationResult | FlowwError
) -> Execution:
    """Record what the host answered for ``prepared`` (or the error it raised): COMPLETED or
    FAILED, TIMED_OUT past the deadline; the execution as stored when it was settled
    meanwhile."""
    started = prepared.started
    elapsed = round((deps.clock.monotonic() - prepared.t0) * 1000, 3)
    if isinstance(result, DeadlineExceeded):
        info = ErrorInfo("DeadlineExceeded", str(result))
        return _fail(deps, started, ExecutionStatus.TIMED_OUT, info, elapsed)
    if isinstance(result, FlowwError):
        info = ErrorInfo(type(result).__name__, str(result))
        return _fail(deps, started, ExecutionStatus.FAILED, info, elapsed)
    try:
        return complete_execution(deps, started, result, duration_ms=elapsed)
    except Conflict:
        return deps.repo.get_execution(started.id)
