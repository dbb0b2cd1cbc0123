"""Realtime: live messages to dev sessions on channels such as ``workflow:<id>``.

- ``publish`` delivers to every current subscriber of the channel (none is fine); it raises
  ``Unavailable`` when the realtime service cannot be reached.
- ``subscribe`` returns a subscription that receives what is published after it was made, in
  publish order. Authorisation is the caller's job (see ``domain.access``).
- ``DEV_REPLY_RPC`` is the method of the realtime RPC by which a dev session answers an event
  over its own connection (data: ``execution_id``, ``token``, ``result``; answer: ``{}``), when
  the server offers it (``/api/config``'s ``realtime_rpc``).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = [
    "DEV_REPLY_RPC",
    "Realtime",
    "RealtimeHub",
    "Subscriber",
    "Subscription",
    "workflow_channel",
]

DEV_REPLY_RPC = "dev_reply"


def workflow_channel(workflow_id: str) -> str:
    return f"workflow:{workflow_id}"


class Subscription(Protocol):
    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or ``None`` after ``timeout`` seconds (or once closed)."""

    def close(self) -> None: ...


class Realtime(Protocol):
    def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, channel: str) -> Subscription: ...

    def subscriber_count(self, channel: str) -> int:
        """How many subscribers the channel has now (a dev session is one)."""


class Subscriber(Protocol):
    """Something a hub hands encoded (JSON text) publications to, such as the outbox of a
    websocket connection."""

    def offer(self, channel: str, encoded: str) -> bool:
        """Take one encoded message; ``False`` when closed or overflowed (the hub then drops
        the subscriber from the channel)."""


class RealtimeHub(Realtime, Protocol):
    """A ``Realtime`` that also fans out to subscribers outside the process's own
    subscriptions: the edge that speaks the Centrifugo client protocol attaches one per
    subscribed channel of a connection."""

    def attach(self, channel: str, subscriber: Subscriber) -> None: ...

    def detach(self, channel: str, subscriber: Subscriber) -> None:
        """Stop delivering; detaching twice is harmless."""
