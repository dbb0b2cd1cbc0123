"""``Inbox``: the queue behind a realtime ``Subscription`` (in memory, in the server's hub, over
a Centrifugo connection), which closing ends for every reader at once.

``get`` answers the next item, or ``None`` after ``timeout`` seconds or once the inbox is closed;
what is still queued then is discarded. ``put`` refuses (``False``) once closed, and when
``max_pending`` items already wait: the reader fell that far behind, so the inbox closes and
``overflowed`` becomes true. Any thread may call any method.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Generic, TypeVar, cast

__all__ = ["Inbox"]

T = TypeVar("T")

_CLOSED = object()


class Inbox(Generic[T]):
    """``max_pending`` 0 means no bound."""

    def __init__(self, max_pending: int = 0) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._closed = threading.Event()
        self.overflowed = False

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def get(self, timeout: float | None = None) -> T | None:
        if self._closed.is_set():
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _CLOSED or self._closed.is_set():
            self._wake_readers()
            return None
        return cast(T, item)

    def put(self, item: T) -> bool:
        if self._closed.is_set():
            return False
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.overflowed = True
            self.close()
            return False
        return True

    def close(self) -> bool:
        """Close it; ``True`` the first time, ``False`` when it was closed already."""
        if self._closed.is_set():
            return False
        self._closed.set()
        self._wake_readers()
        return True

    def _wake_readers(self) -> None:
        # Make room for the sentinel: once closed, queued items are never read. A reader that
        # takes the sentinel puts it back for the next one.
        while True:
            try:
                self._queue.put_nowait(_CLOSED)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
