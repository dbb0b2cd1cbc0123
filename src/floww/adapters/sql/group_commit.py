"""Group commit: the execution writes of concurrent requests share one transaction.

A thread with a write to make queues it and waits for a leader's place (one on SQLite, a few
on PostgreSQL). A leader drains the queue (its own write and every one queued meanwhile), runs
them in one write transaction and commits; the writers it carried are woken with their write
done. So ``write`` returns only after the transaction holding that write committed (durable as
any other commit of the database: see docs/performance.md), and a burst of N writers costs
about one transaction per drain instead of N.

When a grouped transaction fails (one write is refused, say a dedupe conflict), nothing of
it was committed: each of its writes is run again in a transaction of its own, so one write's
error reaches only its writer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")

MAX_GROUP = 64
"""At most this many writes share a transaction (bounds the time the write lock is held)."""

POSTGRESQL_LEADERS = 8
"""Groups committed at once on PostgreSQL (each on its own connection)."""


class _Write(Generic[T]):
    """One queued write. ``done`` is set under the queue's lock; a writer that has to wait for
    another leader's commit parks on ``waiter``, a lock made only then (most writes lead their
    own group and never wait: an ``Event`` per write cost more than the write's SQL)."""

    __slots__ = ("done", "error", "op", "result", "waiter")

    def __init__(self, op: Callable[[Any], T]) -> None:
        self.op = op
        self.done = False
        self.waiter: threading.Lock | None = None
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Runs ``op(handle)`` inside a write transaction ``begin(n)`` opens for ``n`` writes
    (the handle is what it yields: a connection, a cursor), shared with the writes other
    threads make at the same time. ``leaders`` groups are committed at once: 1 on SQLite (one
    writer at a time anyway), more on PostgreSQL (``POSTGRESQL_LEADERS``), whose commits wait
    for the disk and flush together. Safe to share between threads."""

    def __init__(self, begin: Callable[[int], AbstractContextManager[Any]], leaders: int) -> None:
        self._begin = begin
        self._queue: list[_Write[object]] = []
        self._queue_lock = threading.Lock()
        # one leader: a plain lock (a semaphore is a condition variable, slower to pass)
        self._leaders: AbstractContextManager[Any] = (
            threading.Lock() if leaders == 1 else threading.BoundedSemaphore(leaders)
        )

    def write(self, op: Callable[[Any], T]) -> T:
        """``op``'s result once its transaction committed; what ``op`` raised otherwise
        (as ``begin``'s transaction translates it, for a transaction of its own)."""
        item: _Write[T] = _Write(op)
        with self._queue_lock:
            self._queue.append(item)  # type: ignore[arg-type]
        while not item.done:
            with self._leaders:
                with self._queue_lock:
                    group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                if group:
                    self._commit(group)
            if not group:  # another leader took it: its commit is under way
                with self._queue_lock:
                    if item.done:
                        break
                    waiter = item.waiter = threading.Lock()
                    waiter.acquire()
                waiter.acquire()  # released once the leader set it done
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[return-value]

    def _commit(self, group: list[_Write[object]]) -> None:
        try:
            with self._begin(len(group)) as conn:
                results = [item.op(conn) for item in group]
        except BaseException as error:
            if len(group) == 1:
                group[0].error = error
            else:
                for item in group:
                    self._alone(item)
            self._finish(group)
            return
        for item, result in zip(group, results, strict=True):
            item.result = result
        self._finish(group)

    def _alone(self, item: _Write[object]) -> None:
        try:
            with self._begin(1) as conn:
                item.result = item.op(conn)
        except BaseException as error:
            item.error = error

    def _finish(self, group: list[_Write[object]]) -> None:
        """Mark the writes of ``group`` done and wake their writers that wait."""
        with self._queue_lock:
            waiters = []
            for item in group:
                item.done = True
                if item.waiter is not None:
                    waiters.append(item.waiter)
        for waiter in waiters:
            waiter.release()
