"""A runtime reporting the answer of a run it was handed detached (``FunctionHost.start``):
the Lambda entry posts it with the execution's token once the handler finished.

Guarantees: only the execution's own token reports it (any other caller: ``NotFound``, the
execution is out of its reach); an execution is reported once, while STARTED, and a second
report, or one for an execution that ended meanwhile (timed out when its lease lapsed,
cancelled), is refused with ``Conflict`` and changes nothing. A failed attempt is followed by
the next one when the trigger's retry policy asks for it, as for a synchronous run.
"""

from __future__ import annotations

import contextlib

from floww.domain.errors import Conflict, FlowwError, NotFound
from floww.domain.model import Execution, ExecutionStatus, InvocationResult, Principal
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.executions import complete_execution
from floww.domain.usecases.retries import schedule_retry

__all__ = ["report_execution"]


def report_execution(
    deps: ServerDeps, principal: Principal, execution_id: str, result: InvocationResult
) -> Execution:
    """Record ``result`` as the outcome of the STARTED execution ``execution_id``: COMPLETED,
    FAILED, or TIMED_OUT when the runtime's error is ``DeadlineExceeded``."""
    if principal.kind != "execution" or principal.execution_id != execution_id:
        raise NotFound("execution", execution_id)
    execution = deps.repo.get_execution(execution_id)
    if execution.status is not ExecutionStatus.STARTED:
        raise Conflict(
            f"execution {execution_id} is {execution.status.value}; its outcome is recorded "
            "already and cannot be reported again",
            execution_id=execution_id,
        )
    error = result.error
    if not result.ok and error is not None and error.type == "DeadlineExceeded":
        final = execution.transition(
            ExecutionStatus.TIMED_OUT,
            error=error,
            logs=execution.logs + result.logs,
            finished_at=deps.clock.now(),
            duration_ms=result.duration_ms,
        )
        deps.repo.update_execution(final)  # Conflict when it ended meanwhile
    else:
        final = complete_execution(deps, execution, result, duration_ms=result.duration_ms)
    with contextlib.suppress(FlowwError):
        schedule_retry(deps, final, deps.repo.get_trigger(final.trigger_id))
    return final
