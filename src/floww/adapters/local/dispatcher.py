"""A dispatcher of threads, one lane per key (a workflow).

Each key may run ``concurrency`` pieces of work at once and hold ``queue_limit`` more waiting;
a reservation past that raises ``Overloaded`` with ``retry_after_s``. A key's threads are
started on demand, up to its concurrency, and each one ends after ``idle_s`` without work, so
a quiet key costs nothing. Keys share nothing but the lock that guards the bookkeeping: one
key's slow work never holds up another's.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import attrs

from floww.domain.errors import Overloaded, Unavailable
from floww.ports.dispatcher import Dispatcher, Slot

__all__ = ["ThreadDispatcher"]

log = logging.getLogger("floww.dispatcher")

T = TypeVar("T")


@attrs.define
class _Lane:
    ready: threading.Condition
    # (work, future, claimed): claimed work holds a lane already and is never cancelled
    waiting: collections.deque[tuple[Callable[[], Any], Future[Any], bool]] = attrs.field(
        factory=collections.deque
    )
    reserved: int = 0
    claimed: int = 0
    threads: int = 0
    busy: int = 0

    @property
    def load(self) -> int:
        return self.busy + len(self.waiting) + self.reserved

    @property
    def empty(self) -> bool:
        return self.threads == 0 and self.reserved == 0 and not self.waiting


class _Slot(Slot):
    def __init__(self, dispatcher: ThreadDispatcher, key: str) -> None:
        self._dispatcher = dispatcher
        self._key = key
        self._used = False
        self._claimed = False

    def submit(self, work: Callable[[], T]) -> Future[T]:
        if self._used:
            raise RuntimeError("a dispatcher slot is used once")
        self._used = True
        return self._dispatcher._submit(self._key, work, self._claimed)

    def release(self) -> None:
        if not self._used:
            self._used = True
            self._dispatcher._release(self._key, self._claimed)

    def claim_lane(self) -> bool:
        if self._used or self._claimed:
            raise RuntimeError("a lane is claimed once, before the slot is used")
        self._claimed = self._dispatcher._claim(self._key)
        return self._claimed


class ThreadDispatcher(Dispatcher):
    """``concurrency`` lanes and ``queue_limit`` waiting places per key; idle threads end
    after ``idle_s``. ``retry_after_s`` is what a refused caller is told to wait."""

    def __init__(
        self,
        *,
        concurrency: int = 4,
        queue_limit: int = 100,
        idle_s: float = 30.0,
        retry_after_s: float = 5.0,
    ) -> None:
        if concurrency < 1 or queue_limit < 0:
            raise ValueError("concurrency must be at least 1 and queue_limit not negative")
        self._concurrency = concurrency
        self._queue_limit = queue_limit
        self._idle_s = idle_s
        self._retry_after_s = retry_after_s
        self._lock = threading.Lock()
        self._lanes: dict[str, _Lane] = {}
        self._closed = False
        self._listeners: list[Callable[[str], None]] = []

    @property
    def closed(self) -> bool:
        return self._closed

    def on_lane_free(self, listener: Callable[[str], None]) -> None:
        """``listener(key)`` each time a lane of ``key`` frees (on the thread that freed it),
        and ``listener("")`` once the dispatcher closes: what waits for a lane elsewhere
        than in its queue (an event loop) tries to claim one again."""
        with self._lock:
            self._listeners.append(listener)

    def _tell(self, key: str) -> None:
        for listener in self._listeners:
            try:
                listener(key)
            except Exception:  # a listener never stops a lane's thread
                log.exception("a dispatcher listener failed")

    def reserve(self, key: str) -> Slot:
        with self._lock:
            if self._closed:
                raise Unavailable("the server is shutting down")
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _Lane(threading.Condition(self._lock))
            if lane.load >= self._concurrency + self._queue_limit:
                raise Overloaded(
                    f"{lane.load} executions of this workflow are running or waiting already",
                    retry_after_s=self._retry_after_s,
                )
            lane.reserved += 1
        return _Slot(self, key)

    def stats(self, key: str) -> dict[str, int]:
        """What the key's lane holds now: threads, busy, waiting (for tests and benchmarks)."""
        with self._lock:
            lane = self._lanes.get(key)
            if lane is None:
                return {"threads": 0, "busy": 0, "waiting": 0}
            return {"threads": lane.threads, "busy": lane.busy, "waiting": len(lane.waiting)}

    def totals(self) -> dict[str, int]:
        """Threads, busy lanes and waiting work summed over every key (for ``/metrics``)."""
        with self._lock:
            lanes = list(self._lanes.values())
            return {
                "threads": sum(lane.threads for lane in lanes),
                # claimed lanes run their work too (on an event loop, or about to on a thread)
                "busy": sum(lane.busy + lane.claimed for lane in lanes),
                "waiting": sum(len(lane.waiting) for lane in lanes),
            }

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until no key has work running (claimed lanes too) or waiting; whether that
        happened in time."""
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if not any(
                    lane.busy or lane.claimed or lane.waiting for lane in self._lanes.values()
                ):
                    return True
            if until is not None and time.monotonic() >= until:
                return False
            time.sleep(0.01)

    def close(self) -> None:
        """Refuse new work and cancel what waits; running work finishes on its own."""
        with self._lock:
            self._closed = True
            cancelled = []
            for lane in self._lanes.values():
                kept = collections.deque(entry for entry in lane.waiting if entry[2])
                cancelled += [future for _, future, claimed in lane.waiting if not claimed]
                lane.waiting = kept
                lane.ready.notify_all()
        for future in cancelled:
            future.cancel()
        self._tell("")

    # -- internals ---------------------------------------------------------------------------

    def _claim(self, key: str) -> bool:
        with self._lock:
            lane = self._lanes[key]
            if self._closed or lane.busy + len(lane.waiting) + lane.claimed >= self._concurrency:
                return False
            lane.claimed += 1
            return True

    def _submit(self, key: str, work: Callable[[], T], claimed: bool = False) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            lane = self._lanes[key]
            lane.reserved -= 1
            if claimed:
                # Its lane is held: it goes first, and closing does not cancel it.
                lane.claimed -= 1
                lane.waiting.appendleft((work, future, True))
            elif self._closed:
                self._forget_if_empty(key, lane)
                future.cancel()
                return future
            else:
                lane.waiting.append((work, future, False))
            start = self._wake(lane)
        if start:
            self._start_thread(key, lane)
        return future

    def _release(self, key: str, claimed: bool = False) -> None:
        start = False
        with self._lock:
            lane = self._lanes[key]
            lane.reserved -= 1
            if claimed:
                lane.claimed -= 1
                start = self._wake(lane)  # the lane it held is free for waiting work
            self._forget_if_empty(key, lane)
        if start:
            self._start_thread(key, lane)
        if claimed:
            self._tell(key)

    def _wake(self, lane: _Lane) -> bool:
        """Under the lock: wake an idle thread for the waiting work, or say that a new one
        is needed (and count it). Nothing when no work waits: an idle thread woken for none
        would only go back to sleep (a lane freed on an event loop, say)."""
        if not lane.waiting:
            return False
        idle = lane.threads - lane.busy
        if idle < len(lane.waiting) and lane.threads < self._concurrency:
            lane.threads += 1
            return True
        lane.ready.notify()
        return False

    def _start_thread(self, key: str, lane: _Lane) -> None:
        threading.Thread(
            target=self._serve, args=(key, lane), name=f"floww-run-{key}", daemon=True
        ).start()

    def _serve(self, key: str, lane: _Lane) -> None:
        while True:
            with self._lock:
                idle_until = time.monotonic() + self._idle_s
                while not self._takeable(lane) and not self._closed:
                    left = idle_until - time.monotonic()
                    if left <= 0:
                        break
                    lane.ready.wait(left)
                if not self._takeable(lane):
                    lane.threads -= 1
                    self._forget_if_empty(key, lane)
                    return
                work, future, _ = lane.waiting.popleft()
                lane.busy += 1
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(work())
                    except BaseException as exc:
                        future.set_exception(exc)
            finally:
                with self._lock:
                    lane.busy -= 1
                self._tell(key)

    def _takeable(self, lane: _Lane) -> bool:
        """Whether the first waiting work may start: claimed work holds its lane already;
        other work needs a lane that is neither busy nor claimed."""
        if not lane.waiting:
            return False
        return lane.waiting[0][2] or lane.busy + lane.claimed < self._concurrency

    def _forget_if_empty(self, key: str, lane: _Lane) -> None:
        if lane.empty and self._lanes.get(key) is lane:
            del self._lanes[key]
