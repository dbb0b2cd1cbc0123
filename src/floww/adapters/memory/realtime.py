"""An in-process realtime hub: channels fan out to queue-backed subscriptions."""

from __future__ import annotations

import json
import threading
from typing import Any

from floww.adapters.inbox import Inbox
from floww.domain.errors import InvalidInput
from floww.ports.realtime import Realtime, Subscription

__all__ = ["InMemoryRealtime", "InMemorySubscription"]


class InMemorySubscription(Subscription):
    def __init__(self, hub: InMemoryRealtime, channel: str) -> None:
        self.channel = channel
        self._hub = hub
        self._inbox: Inbox[dict[str, Any]] = Inbox()

    @property
    def closed(self) -> bool:
        return self._inbox.closed

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        return self._inbox.get(timeout)

    def close(self) -> None:
        if self._inbox.close():
            self._hub._unsubscribe(self)

    def _deliver(self, message: dict[str, Any]) -> None:
        self._inbox.put(message)


class InMemoryRealtime(Realtime):
    """Messages are copied through JSON on publish, as a network hop would: a subscriber never
    shares objects with the publisher, and a message JSON cannot carry raises ``InvalidInput``.
    ``published`` logs every ``(channel, message)`` for tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[InMemorySubscription]] = {}
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        try:
            encoded = json.dumps(message, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"realtime message is not JSON: {exc}") from exc
        with self._lock:
            self.published.append((channel, json.loads(encoded)))
            for subscription in self._subscribers.get(channel, ()):
                subscription._deliver(json.loads(encoded))

    def subscribe(self, channel: str) -> InMemorySubscription:
        subscription = InMemorySubscription(self, channel)
        with self._lock:
            self._subscribers.setdefault(channel, []).append(subscription)
        return subscription

    def subscriber_count(self, channel: str) -> int:
        with self._lock:
            return len(self._subscribers.get(channel, ()))

    def _unsubscribe(self, subscription: InMemorySubscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscription.channel, [])
            if subscription in subscribers:
                subscribers.remove(subscription)
            if not subscribers:
                self._subscribers.pop(subscription.channel, None)
