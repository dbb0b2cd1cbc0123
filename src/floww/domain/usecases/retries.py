"""Scheduling retries of failed runs whose trigger declares a retry policy
(``floww.domain.retry_policy``).

When an attempt ends FAILED or TIMED_OUT and its policy retries that error, the next attempt
is recorded at once as a new RECEIVED execution of the same event: ``attempt`` one more,
``retry_of`` the first run's id, ``retry_delay_s`` the backoff drawn. It is stored without an
owner and with its lease lapsing when the backoff ends, so the recovery sweep of whichever
server process is running then (``recovery.py``) takes it over and runs it on the active
deployment. Waiting retries live in the database only: a restart of the server, or a replica,
changes nothing about when they run.

Each attempt stays recorded as it ended; an event whose attempts are exhausted stays visible
as a failed execution.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from floww.domain.errors import InvalidInput
from floww.domain.model import Execution, ExecutionStatus, Trigger, TriggerSource
from floww.domain.retry_policy import RetryPolicy
from floww.domain.usecases.deps import ServerDeps

__all__ = ["RETRIED_STATUSES", "schedule_retry"]

RETRIED_STATUSES = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT})


def schedule_retry(
    deps: ServerDeps,
    execution: Execution,
    trigger: Trigger,
    uniform: Callable[[float, float], float] = random.uniform,
) -> Execution | None:
    """Record the next attempt of ``execution`` when its trigger's policy asks for one; the
    new execution, or ``None`` (it succeeded, the error is not retried, the attempts are
    used up, the trigger belongs to a dev session or declares no valid policy)."""
    if execution.status not in RETRIED_STATUSES or trigger.source is TriggerSource.DEV:
        return None
    try:
        policy = RetryPolicy.from_input(trigger.spec.input)
    except InvalidInput:
        return None
    error_type = execution.error.type if execution.error is not None else "Error"
    if policy is None or not policy.retries(error_type, execution.attempt):
        return None
    delay = policy.delay_s(execution.attempt, uniform)
    now = deps.clock.now()
    following = Execution(
        id=deps.ids.new_id("exe"),
        workflow_id=execution.workflow_id,
        trigger_id=execution.trigger_id,
        status=ExecutionStatus.RECEIVED,
        received_at=now,
        event=dict(execution.event),
        triggered_by=execution.triggered_by,
        owner=None,
        lease_expires_at=now + timedelta(seconds=delay),
        attempt=execution.attempt + 1,
        retry_of=execution.retry_of or execution.id,
        retry_delay_s=delay,
    )
    deps.repo.create_execution(following)
    return following
