"""Execution retention: finished executions older than ``max_age``, or past the
``keep_per_workflow`` newest of their workflow, are deleted with their logs, in batches of
``batch`` so that no transaction holds the database for long. Unfinished executions stay
(recovery owns them). Deleting an execution also forgets its dedupe key: a delivery replayed
after its execution is gone runs again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from floww.domain.errors import InvalidInput
from floww.ports.support import Clock
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["RetentionPolicy", "check_prune_request", "sweep_executions"]


def check_prune_request(received_before: datetime, keep_per_workflow: int, limit: int) -> None:
    """What every ``WorkflowRepo.prune_executions`` refuses: ``InvalidInput`` for negative
    counts and a naive time."""
    if keep_per_workflow < 0 or limit < 0:
        raise InvalidInput("keep_per_workflow and limit must not be negative")
    if received_before.tzinfo is None:
        raise InvalidInput("timestamps must be timezone-aware")


@attrs.frozen
class RetentionPolicy:
    max_age: timedelta
    keep_per_workflow: int
    batch: int = 500
    max_batches: int = 200


def sweep_executions(
    repo: WorkflowRepo,
    clock: Clock,
    policy: RetentionPolicy,
    *,
    pause: Callable[[], bool] = lambda: False,
) -> int:
    """Delete what the policy no longer keeps, batch after batch, until a batch comes back
    short, ``max_batches`` ran or ``pause()`` (called between batches) answers ``True``;
    returns how many executions went."""
    deleted = 0
    for _ in range(policy.max_batches):
        gone = repo.prune_executions(
            received_before=clock.now() - policy.max_age,
            keep_per_workflow=policy.keep_per_workflow,
            limit=policy.batch,
        )
        deleted += gone
        if gone < policy.batch or pause():
            break
    return deleted
