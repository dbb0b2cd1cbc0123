"""Acting on recorded executions: run one's event again on the active deployment (rerun) and
stop one that has not finished (cancel).

- ``rerun_execution`` records a new execution of the same trigger and event, queued on the
  workflow's active deployment, and returns it without waiting (its ``triggered_by`` names the
  person and the execution it repeats). ``InvalidInput`` when the trigger is not part of the
  active deployment (a dev trigger, or one removed since): deploy it, then rerun.
- ``execution_trigger`` is the trigger spec a recorded execution ran (what ``floww executions
  replay`` looks for in the local code); ``NotFound`` once the trigger was removed.
- ``cancel_execution`` records a RECEIVED, QUEUED or STARTED execution as CANCELLED at once; a
  queued one then never starts, and a pending retry never runs. A running handler is stopped
  when its worker runs in this server process (``FunctionHost`` adapters that can, such as the
  local one, offer ``cancel_invocation``); elsewhere it runs to its end or its deadline, and
  what it returns is not recorded. ``Conflict`` for an execution that already finished.

Both need the right to manage the workflow; another tenant's execution is ``NotFound``.
"""

from __future__ import annotations

from collections.abc import Callable

from floww.domain.errors import Conflict, InvalidInput, NotFound
from floww.domain.model import (
    ErrorInfo,
    Execution,
    ExecutionStatus,
    Principal,
    TriggerSource,
    TriggerSpec,
)
from floww.domain.usecases.access import Action, require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.executions import new_execution, queue_execution
from floww.domain.usecases.queries import get_execution

__all__ = ["CANCELLED_MESSAGE", "cancel_execution", "execution_trigger", "rerun_execution"]

CANCELLED_MESSAGE = "cancelled"


def rerun_execution(deps: ServerDeps, principal: Principal, execution_id: str) -> Execution:
    source = get_execution(deps, principal, execution_id)
    require_workflow(deps.repo, principal, source.workflow_id, Action.RUN)
    try:
        trigger = deps.repo.get_trigger(source.trigger_id)
    except NotFound:
        trigger = None
    deployment = deps.repo.find_active_deployment(source.workflow_id)
    if (
        trigger is None
        or deployment is None
        or trigger.source is TriggerSource.DEV
        or trigger.deployment_id != deployment.id
    ):
        raise InvalidInput(
            f"execution {execution_id}'s trigger is not part of the workflow's active "
            "deployment; deploy it, then rerun",
            field="execution_id",
        )
    slot = deps.dispatcher.reserve(source.workflow_id)
    try:
        who = principal.email or f"{principal.kind}:{principal.id}"
        execution = new_execution(
            deps,
            trigger,
            dict(source.event),
            triggered_by=f"{who} (rerun of {source.id})"[:255],
            queued_for=deployment,
        )
    except BaseException:
        slot.release()
        raise
    queue_execution(deps, slot, execution, deployment, trigger, detached=True)
    return execution


def cancel_execution(deps: ServerDeps, principal: Principal, execution_id: str) -> Execution:
    execution = get_execution(deps, principal, execution_id)
    require_workflow(deps.repo, principal, execution.workflow_id, Action.RUN)
    if execution.status.is_final:
        raise Conflict(
            f"execution {execution_id} already finished ({execution.status.value})",
            execution_id=execution_id,
        )
    who = principal.email or f"{principal.kind}:{principal.id}"
    cancelled = execution.transition(
        ExecutionStatus.CANCELLED,
        error=ErrorInfo("Cancelled", f"{CANCELLED_MESSAGE} by {who}"),
        finished_at=deps.clock.now(),
    )
    deps.repo.update_execution(cancelled)  # Conflict when it finished meanwhile
    stop: Callable[[str], bool] | None = getattr(deps.host, "cancel_invocation", None)
    if execution.status is ExecutionStatus.STARTED and callable(stop):
        stop(execution_id)
    return cancelled


def execution_trigger(deps: ServerDeps, principal: Principal, execution_id: str) -> TriggerSpec:
    execution = get_execution(deps, principal, execution_id)
    try:
        return deps.repo.get_trigger(execution.trigger_id).spec
    except NotFound:
        raise NotFound(
            "trigger", f"{execution.trigger_id} (removed since execution {execution_id} ran)"
        ) from None
