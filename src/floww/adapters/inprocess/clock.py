"""The system clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from floww.ports.support import Clock

__all__ = ["SystemClock"]


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
