"""ProcessLimitStore: rate-limit states in this process, at most ``capacity`` keys (the
least recently updated are forgotten first), so a flood of distinct clients cannot grow it
without bound."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from floww.ports.limit_store import LimitStore

__all__ = ["ProcessLimitStore"]

T = TypeVar("T")


class ProcessLimitStore(LimitStore):
    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._states: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def update(self, key: str, change: Callable[[Any | None], tuple[Any | None, T]]) -> T:
        with self._lock:
            state, answer = change(self._states.get(key))
            if state is None:
                self._states.pop(key, None)
            else:
                self._states[key] = state
                self._states.move_to_end(key)
                while len(self._states) > self._capacity:
                    self._states.popitem(last=False)
            return answer

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)
