"""The cron scheduler of a server process.

Every ``interval`` seconds it computes the cron ticks that fell due since its last look and
hands each to ``fire_cron_tick``, which claims it in the repository first: several server
processes on one database run each tick once. Ticks that fell due while no scheduler ran are
not replayed (a restart does not fire a burst of stale runs).

Recovering the executions of a stopped server is the lease keeper's (``leases.py``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from floww.domain.errors import FlowwError
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.scheduling import CronTick, due_cron_ticks, fire_cron_tick
from floww.entrypoints.background import Periodic

__all__ = ["CronScheduler"]

log = logging.getLogger("floww.scheduler")


class CronScheduler:
    def __init__(self, deps: ServerDeps, *, interval: float = 1.0) -> None:
        self._deps = deps
        self._loop = Periodic("floww-cron", self.run_once, interval)
        self._last: datetime | None = None

    def run_once(self, now: datetime | None = None) -> list[CronTick]:
        """Fire every tick due in (last look, now]; returns the ticks handed out."""
        now = now or self._deps.clock.now()
        last, self._last = self._last or now, now
        if now <= last:
            return []
        try:
            ticks = due_cron_ticks(self._deps.repo.list_cron_triggers(), last, now)
        except FlowwError as exc:
            log.warning("cron: cannot list triggers: %s", exc)
            return []
        for tick in ticks:
            self._deps.executor.submit(self._fire, tick)
        return ticks

    def _fire(self, tick: CronTick) -> None:
        try:
            execution = fire_cron_tick(self._deps, tick)
        except FlowwError as exc:
            log.warning(
                "cron: tick %s of trigger %s failed: %s", tick.scheduled_at, tick.trigger.id, exc
            )
            return
        if execution is not None:
            log.info(
                "cron: %s at %s -> %s",
                tick.trigger.id,
                tick.scheduled_at.isoformat(),
                execution.status.value,
            )

    def start(self) -> None:
        self._last = self._deps.clock.now()
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
