"""A manual clock that tests move by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from floww.domain.errors import InvalidInput
from floww.ports.support import Clock

__all__ = ["ManualClock"]


class ManualClock(Clock):
    """Time stands still until ``advance`` moves it; ``monotonic`` moves with it."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start if start is not None else datetime(2024, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise InvalidInput("ManualClock needs an aware start time")
        self._lock = threading.Lock()
        self._now = start.astimezone(UTC)
        self._elapsed = 0.0

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def advance(self, seconds: float) -> datetime:
        """Move time forward; returns the new now. Time never goes back."""
        if seconds < 0:
            raise InvalidInput("a clock cannot go back in time")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._elapsed += seconds
            return self._now
