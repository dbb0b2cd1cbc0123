"""Replies within one process: a rendezvous guarded by one condition variable (the embedded
profile on SQLite, which is single-process, and tests)."""

from __future__ import annotations

import threading
import time

from floww.domain.errors import Conflict, NotFound
from floww.domain.model import InvocationResult
from floww.ports.replies import Replies

__all__ = ["ProcessReplies"]


class ProcessReplies(Replies):
    """An id is open from ``open`` until ``wait`` returns. ``deliver`` to an unknown or
    released id is ``NotFound``, a second ``deliver`` is ``Conflict``; opening an id that is
    open is ``Conflict``, and waiting on an id that is not open is ``NotFound``."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._slots: dict[str, InvocationResult | None] = {}

    def open(self, reply_id: str) -> None:
        with self._condition:
            if reply_id in self._slots:
                raise Conflict(f"reply {reply_id} is already open", reply_id=reply_id)
            self._slots[reply_id] = None

    def deliver(self, reply_id: str, reply: InvocationResult) -> None:
        with self._condition:
            if reply_id not in self._slots:
                raise NotFound("reply", reply_id)
            if self._slots[reply_id] is not None:
                raise Conflict(f"reply {reply_id} was answered already", reply_id=reply_id)
            self._slots[reply_id] = reply
            self._condition.notify_all()

    def wait(self, reply_id: str, timeout: float) -> InvocationResult | None:
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._condition:
            if reply_id not in self._slots:
                raise NotFound("reply", reply_id)
            try:
                while (answer := self._slots.get(reply_id)) is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._condition.wait(remaining)
                return answer
            finally:
                self._slots.pop(reply_id, None)

    def is_open(self, reply_id: str) -> bool:
        with self._condition:
            return reply_id in self._slots
