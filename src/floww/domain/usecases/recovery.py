"""Recovering the executions whose owner is gone.

An execution is owned by the server process that recorded it (or took it over), through a
lease that process renews while it lives. When the lease lapses, the owner is gone, and a
sweep of any process takes the execution over (one process wins each) and:

- STARTED (the handler may have run, in part or whole): marks it INTERRUPTED, error type
  ``Interrupted`` ("interrupted: may have run"). It is not run again: a handler with side
  effects must not apply them twice behind its caller's back.
- STARTED detached on the function host (lease held by ``DETACHED_OWNER``) whose deadline
  passed without a report: marks it TIMED_OUT, error type ``DeadlineExceeded``, and records
  the next attempt when the trigger's retry policy asks for one.
- RECEIVED or QUEUED (no handler ever started): runs it again on the workflow's active
  deployment, queued like any other; NO_DEPLOYMENT when its trigger is no longer deployed.
  An execution of a dev trigger has nobody to run it any more: FAILED.

Live executions are never touched: their lease does not lapse while their owner runs.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future

from floww.domain.errors import Conflict, FlowwError, NotFound, Unavailable
from floww.domain.model import ErrorInfo, Execution, ExecutionStatus, TriggerSource
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.executions import DETACHED_OWNER, lease_until, queue_execution
from floww.domain.usecases.retries import schedule_retry

__all__ = ["INTERRUPTED_MESSAGE", "NO_REPORT_MESSAGE", "Recovered", "recover_executions"]

INTERRUPTED_MESSAGE = (
    "interrupted: may have run; the server running it stopped after the handler started"
)

NO_REPORT_MESSAGE = (
    "the function host reported no result before the execution's deadline "
    "(the function may have run; see its logs)"
)


class Recovered:
    """What one sweep did: ``interrupted`` executions, ``requeued`` ones (with the futures of
    their new runs) and ``settled`` ones (no deployment or no dev session to run them, or no
    report from the function host before the deadline)."""

    def __init__(self) -> None:
        self.interrupted: list[Execution] = []
        self.requeued: list[tuple[Execution, Future[Execution]]] = []
        self.settled: list[Execution] = []

    def __len__(self) -> int:
        return len(self.interrupted) + len(self.requeued) + len(self.settled)


def recover_executions(deps: ServerDeps, *, limit: int = 500) -> Recovered:
    """One sweep over the executions whose lease lapsed. A workflow whose queue is full (or a
    dispatcher that is closed) keeps its executions for a later sweep."""
    done = Recovered()
    now = deps.clock.now()
    for lapsed in deps.repo.list_lapsed_executions(now, limit):
        if lapsed.status is ExecutionStatus.STARTED:
            taken = deps.repo.take_over_execution(lapsed.id, now, deps.owner_id, lease_until(deps))
            if taken is not None and lapsed.owner == DETACHED_OWNER:
                _time_out(deps, taken, done)
            elif taken is not None and (final := _interrupt(deps, taken)) is not None:
                done.interrupted.append(final)
            continue
        try:
            slot = deps.dispatcher.reserve(lapsed.workflow_id)
        except Unavailable:  # the queue is full, or this process is stopping: a later sweep
            continue
        taken = deps.repo.take_over_execution(lapsed.id, now, deps.owner_id, lease_until(deps))
        if taken is None:
            slot.release()
            continue
        try:
            trigger = deps.repo.get_trigger(taken.trigger_id)
            deployment = deps.repo.find_active_deployment(taken.workflow_id)
        except NotFound:
            trigger, deployment = None, None
        if trigger is not None and trigger.source is TriggerSource.DEV:
            slot.release()
            info = ErrorInfo("Interrupted", "the server stopped before a dev session got it")
            _settle(deps, taken, ExecutionStatus.FAILED, info, done)
        elif trigger is None or deployment is None or trigger.deployment_id != deployment.id:
            slot.release()
            _settle(deps, taken, ExecutionStatus.NO_DEPLOYMENT, None, done)
        else:
            queued = taken
            if taken.status is ExecutionStatus.RECEIVED:
                queued = taken.transition(ExecutionStatus.QUEUED, deployment_id=deployment.id)
                deps.repo.update_execution(queued)
            future = queue_execution(deps, slot, queued, deployment, trigger, detached=True)
            done.requeued.append((queued, future))
    return done


def _interrupt(deps: ServerDeps, execution: Execution) -> Execution | None:
    info = ErrorInfo("Interrupted", INTERRUPTED_MESSAGE)
    final = execution.transition(
        ExecutionStatus.INTERRUPTED, error=info, finished_at=deps.clock.now()
    )
    try:
        deps.repo.update_execution(final)
    except Conflict:  # it finished meanwhile
        return None
    return final


def _time_out(deps: ServerDeps, execution: Execution, done: Recovered) -> None:
    info = ErrorInfo("DeadlineExceeded", NO_REPORT_MESSAGE)
    _settle(deps, execution, ExecutionStatus.TIMED_OUT, info, done)
    if done.settled and done.settled[-1].id == execution.id:
        with contextlib.suppress(FlowwError):
            schedule_retry(deps, done.settled[-1], deps.repo.get_trigger(execution.trigger_id))


def _settle(
    deps: ServerDeps,
    execution: Execution,
    status: ExecutionStatus,
    error: ErrorInfo | None,
    done: Recovered,
) -> None:
    final = execution.transition(status, error=error, finished_at=deps.clock.now())
    try:
        deps.repo.update_execution(final)
    except Conflict:
        return
    done.settled.append(final)
