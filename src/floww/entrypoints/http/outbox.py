"""The bounded mailbox of one realtime websocket connection (see ``realtime``): a
``Subscriber`` the hub hands encoded publications to, from any thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque

from floww.ports.realtime import Subscriber

__all__ = ["DEFAULT_MAX_PENDING", "Outbox"]

DEFAULT_MAX_PENDING = 1000


class Outbox(Subscriber):
    """The bounded mailbox of one websocket connection, shared by all its channels.

    Publishers on any thread ``offer`` encoded messages; the connection itself queues its own
    frames (command replies, pings) with ``put_frame`` on ``loop``. The connection's writer task
    awaits ``take`` and gets everything queued so far, in order: ``(channel, encoded message)``
    for a publication, ``(None, frame)`` for the connection's own frames. Past ``max_pending``
    unsent items the outbox overflows: it refuses more and ``take`` returns ``None``, the
    signal for the connection to close. ``close`` also makes ``take`` return ``None``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_pending: int = DEFAULT_MAX_PENDING):
        self._loop = loop
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._items: deque[tuple[str | None, str]] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self.overflowed = False

    def offer(self, channel: str, encoded: str) -> bool:
        with self._lock:
            if self._closed:
                return False
            if len(self._items) >= self._max_pending:
                self.overflowed = self._closed = True
                self._items.clear()
            else:
                self._items.append((channel, encoded))
            wake = self._closed or len(self._items) == 1
        if wake:
            self._wake()
        return not self._closed

    def put_frame(self, frame: str) -> None:
        """Queue one of the connection's own frames after everything queued so far. Not counted
        against ``max_pending``: the connection makes these at the pace of its client."""
        with self._lock:
            if self._closed:
                return
            self._items.append((None, frame))
            wake = len(self._items) == 1
        if wake:
            self._wake()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._items.clear()
        self._wake()

    async def take(self) -> list[tuple[str | None, str]] | None:
        """Everything queued so far (waiting for at least one item), or ``None`` once the outbox
        is closed or overflowed. Call it from ``loop`` only."""
        while True:
            with self._lock:
                if self._closed:
                    return None
                if self._items:
                    items = list(self._items)
                    self._items.clear()
                    self._ready.clear()
                    return items
                self._ready.clear()
            await self._ready.wait()

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop has nobody waiting any more
            self._loop.call_soon_threadsafe(self._ready.set)
