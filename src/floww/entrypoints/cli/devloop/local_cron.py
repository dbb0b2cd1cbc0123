"""Local cron for ``floww dev``: fires the current code's cron triggers on schedule, each with
the time it was due (not the time it ran), as the server's scheduler does.

``due`` is pure and takes the clock's readings; ``run`` loops until stopped, waking at the next
fire time (and at least every ``max_sleep`` seconds, so that reloaded triggers are seen).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from floww.domain.model import TriggerSpec
from floww.domain.usecases import scheduling
from floww.ports.support import Clock

__all__ = ["LocalCron", "due_ticks"]


def due_ticks(
    specs: Sequence[TriggerSpec], after: datetime, until: datetime
) -> list[tuple[TriggerSpec, datetime]]:
    """Every fire time in (``after``, ``until``] of the cron triggers in ``specs``, oldest
    first, by the server scheduler's rule (an invalid expression fires nothing)."""
    return scheduling.due_ticks(specs, lambda spec: spec, after, until)


class LocalCron:
    """``fire(spec, scheduled_time)`` is called for each tick that falls due while running."""

    def __init__(
        self,
        triggers: Callable[[], Sequence[TriggerSpec]],
        fire: Callable[[TriggerSpec, datetime], None],
        clock: Clock,
        *,
        max_sleep: float = 1.0,
    ) -> None:
        self._triggers = triggers
        self._fire = fire
        self._clock = clock
        self._max_sleep = max_sleep
        self._stop = threading.Event()
        self._last: datetime | None = None
        self._thread: threading.Thread | None = None

    def step(self) -> float:
        """Fire what fell due since the previous step (nothing on the first) and return how
        long to sleep before the next one."""
        now = self._clock.now()
        specs = list(self._triggers())
        if self._last is not None:
            for spec, moment in due_ticks(specs, self._last, now):
                self._fire(spec, moment)
        self._last = now
        waits = [self._max_sleep]
        for spec in specs:
            schedule = scheduling.cron_schedule(spec)
            if schedule is not None:
                waits.append((schedule.next_after(now) - now).total_seconds())
        return max(0.01, min(waits))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="floww-dev-cron", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.step())

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
