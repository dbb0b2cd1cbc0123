"""The retention sweeper of a server process: every ``interval`` seconds (and once at start)
it runs ``sweep_executions``, yielding the database briefly between batches. Several server
processes may sweep at once: a batch deletes what is there, and an execution deleted twice is
simply gone."""

from __future__ import annotations

import logging

from floww.domain.errors import FlowwError
from floww.domain.usecases.retention import RetentionPolicy, sweep_executions
from floww.entrypoints.background import Periodic
from floww.ports.support import Clock
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["RetentionSweeper"]

log = logging.getLogger("floww.retention")


class RetentionSweeper:
    def __init__(
        self,
        repo: WorkflowRepo,
        clock: Clock,
        policy: RetentionPolicy,
        *,
        interval: float = 300.0,
        pause_s: float = 0.05,
    ) -> None:
        self._repo = repo
        self._clock = clock
        self._policy = policy
        self._pause_s = pause_s
        self._loop = Periodic("floww-retention", self.sweep, interval, at_start=True)

    def sweep(self) -> int:
        """One sweep; returns how many executions it deleted (0 when the database failed)."""
        try:
            deleted = sweep_executions(
                self._repo,
                self._clock,
                self._policy,
                pause=lambda: self._loop.stopping.wait(self._pause_s),
            )
        except FlowwError as exc:
            log.warning("retention: cannot sweep executions: %s", exc)
            return 0
        if deleted:
            log.info("retention: deleted %d execution(s) past the retention policy", deleted)
        return deleted

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
