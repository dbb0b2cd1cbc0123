"""Sequential ids, for readable tests."""

from __future__ import annotations

import threading
from collections import defaultdict

from floww.ports.support import IdGenerator

__all__ = ["SequentialIds"]


class SequentialIds(IdGenerator):
    """``<prefix>_000001``, ``<prefix>_000002``, ... counted per prefix, so ids sort by age."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: defaultdict[str, int] = defaultdict(int)

    def new_id(self, prefix: str) -> str:
        with self._lock:
            self._counters[prefix] += 1
            return f"{prefix}_{self._counters[prefix]:06d}"
