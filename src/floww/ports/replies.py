"""Replies: the rendezvous where a webhook waits for a dev session's answer.

- ``open`` reserves a reply id before the event is published.
- ``deliver`` stores the answer; ``NotFound`` for an unknown or expired id, ``Conflict`` when
  it was answered already.
- ``wait`` returns the answer, or ``None`` when ``timeout`` seconds pass first; it releases the
  id either way.
"""

from __future__ import annotations

from typing import Protocol

from floww.domain.model import InvocationResult

__all__ = ["Replies"]


class Replies(Protocol):
    def open(self, reply_id: str) -> None: ...

    def deliver(self, reply_id: str, reply: InvocationResult) -> None: ...

    def wait(self, reply_id: str, timeout: float) -> InvocationResult | None: ...
