"""The realtime hub inside the server: channels fan out to in-process subscriptions and to the
outboxes of websocket connections.

``publish`` may be called from any thread. It encodes the message to JSON once (a message JSON
cannot carry raises ``InvalidInput``) and hands the encoded text to every current subscriber of
the channel while holding the hub's lock, so all subscribers see one channel's messages in publish
order. Every subscriber gets its own decoded copy: it never shares objects with the publisher.

Memory is bounded. Each subscriber holds at most ``max_pending`` undelivered messages. A
subscriber that falls that far behind is dropped rather than allowed to grow without bound:

- an in-process ``LocalSubscription`` is closed (``overflowed`` becomes true, ``get`` returns
  ``None`` from then on);
- a websocket connection's outbox (``floww.entrypoints.http.outbox``) overflows: it refuses
  further messages and its connection closes itself with the Centrifugo "slow" disconnect
  code, so the client reconnects and subscribes afresh. Messages published while it was
  behind are lost to that connection.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from floww.adapters.inbox import Inbox
from floww.domain.errors import InvalidInput
from floww.ports.realtime import RealtimeHub, Subscriber, Subscription

__all__ = ["DEFAULT_MAX_PENDING", "LocalRealtimeHub", "LocalSubscription"]

DEFAULT_MAX_PENDING = 1000


class LocalSubscription(Subscription):
    """An in-process subscription backed by a bounded ``Inbox`` of encoded messages."""

    def __init__(self, hub: LocalRealtimeHub, channel: str, max_pending: int) -> None:
        self.channel = channel
        self._hub = hub
        self._inbox: Inbox[str] = Inbox(max_pending)

    @property
    def closed(self) -> bool:
        return self._inbox.closed

    @property
    def overflowed(self) -> bool:
        return self._inbox.overflowed

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or ``None`` after ``timeout`` seconds or once closed. Messages still
        queued when the subscription is closed are discarded."""
        encoded = self._inbox.get(timeout)
        if encoded is None:
            return None
        decoded: dict[str, Any] = json.loads(encoded)
        return decoded

    def close(self) -> None:
        if self._inbox.close():
            self._hub._remove(self.channel, self)

    def offer(self, channel: str, encoded: str) -> bool:
        # A reader max_pending messages behind is dropped instead of growing: the inbox closes.
        return self._inbox.put(encoded)


class LocalRealtimeHub(RealtimeHub):
    """Fan-out of published messages to in-process subscriptions and websocket outboxes.

    ``max_pending`` bounds every in-process subscription (outboxes carry their own bound).
    """

    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if max_pending < 1:
            raise InvalidInput("max_pending must be at least 1")
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[Subscriber]] = {}

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver ``message`` to the channel's current subscribers; ``InvalidInput`` when it is
        not a JSON object. Subscribers that overflow are dropped from the channel."""
        if not isinstance(message, dict):
            raise InvalidInput("realtime message must be a JSON object")
        try:
            encoded = json.dumps(message, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"realtime message is not JSON: {exc}") from exc
        with self._lock:
            subscribers = self._subscribers.get(channel)
            if not subscribers:
                return
            dropped = [s for s in subscribers if not s.offer(channel, encoded)]
            for subscriber in dropped:
                subscribers.remove(subscriber)
            if not subscribers:
                del self._subscribers[channel]

    def subscribe(self, channel: str) -> LocalSubscription:
        subscription = LocalSubscription(self, channel, self._max_pending)
        self._add(channel, subscription)
        return subscription

    def attach(self, channel: str, subscriber: Subscriber) -> None:
        self._add(channel, subscriber)

    def detach(self, channel: str, subscriber: Subscriber) -> None:
        self._remove(channel, subscriber)

    def subscriber_count(self, channel: str) -> int:
        with self._lock:
            return len(self._subscribers.get(channel, ()))

    def _add(self, channel: str, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.setdefault(channel, []).append(subscriber)

    def _remove(self, channel: str, subscriber: Subscriber) -> None:
        with self._lock:
            subscribers = self._subscribers.get(channel, [])
            if subscriber in subscribers:
                subscribers.remove(subscriber)
            if not subscribers:
                self._subscribers.pop(channel, None)
