"""The background loops of a server process (cron, leases, retention) share one shape: a daemon
thread that does its work every ``interval`` seconds until it is stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Periodic"]


class Periodic:
    """Runs ``work`` every ``interval`` seconds on a daemon thread named ``name``; with
    ``at_start`` once right away too. ``stop`` ends the loop and waits a moment for it;
    ``stopping`` lets long work pause without outliving a stop."""

    def __init__(
        self, name: str, work: Callable[[], object], interval: float, *, at_start: bool = False
    ) -> None:
        self._name = name
        self._work = work
        self._interval = interval
        self._at_start = at_start
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        if self._at_start and not self.stopping.is_set():
            self._work()
        while not self.stopping.wait(self._interval):
            self._work()
