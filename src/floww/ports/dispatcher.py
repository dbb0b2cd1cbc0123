"""Dispatcher: runs the work of executions with a concurrency limit per key (a workflow id)
and a bounded queue in front of each key, so one key's slow work never starves another's.

- ``reserve(key)`` holds a place in the key's queue before anything is recorded; it raises
  ``Overloaded`` (with ``retry_after_s``) when the key has as much running and waiting as it
  may, and ``Unavailable`` once the dispatcher is closed.
- ``Slot.submit(work)`` runs ``work`` once the key has a free lane; its future carries the
  result or the exception. A slot is used once: ``submit`` or ``release``, never both.
- ``Slot.claim_lane()`` takes a free lane for the slot at once, when the key's running,
  waiting and claimed work together are fewer than its lanes: the caller may then record its
  work as started, and ``submit`` runs it without queueing (claimed work is never cancelled
  by ``close``, and no other work takes its lane).
- Work still waiting when the dispatcher closes is cancelled (its future says so); what it
  would have run is durable elsewhere (a QUEUED execution whose lease lapses).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol, TypeVar

__all__ = ["Dispatcher", "Slot"]

T = TypeVar("T")


class Slot(Protocol):
    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Queue ``work`` in the place this slot holds."""

    def release(self) -> None:
        """Give the place back unused (a claimed lane with it). Idempotent."""

    def claim_lane(self) -> bool:
        """Take a free lane now for the work this slot will submit; ``False`` (nothing
        changed) when running, waiting and claimed work fill the lanes, or the dispatcher is
        closed. Called before ``submit``, and again only after it returned ``False``."""


class Dispatcher(Protocol):
    def reserve(self, key: str) -> Slot: ...

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""

    def on_lane_free(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(key)`` whenever a lane of ``key`` frees (on any thread), and
        ``listener("")`` when the dispatcher closes."""

    def close(self) -> None:
        """Refuse new work and cancel what waits; running work finishes on its own."""
