"""``CentrifugoRealtime``: the ``Realtime`` port over Centrifugo's server HTTP API.

- ``publish`` POSTs ``{"channel", "data"}`` to ``<api url>/api/publish`` with the
  ``X-API-Key`` header. Every replica publishes to the same Centrifugo, which delivers to every
  client subscribed on any of its nodes, so an event reaches a dev session whichever replica
  received the webhook.
- ``subscriber_count`` asks ``/api/presence_stats`` (the channel's namespace needs
  ``presence`` on; Centrifugo answers error 108 otherwise, reported as ``Unavailable``).
- ``subscribe`` opens a client connection through the ``subscriber`` given at construction (a
  websocket client, as a dev session would use). The server itself never listens on
  Centrifugo channels, so the composition root gives none and ``subscribe`` then raises
  ``Unavailable``.

Errors: a message JSON cannot carry raises ``InvalidInput`` before anything is sent. A
connection refused, a timeout (``timeout_s`` for connect, read and write), an HTTP error status
or an ``{"error": {...}}`` answer raise ``Unavailable`` naming the cause; the API key is never
part of a message or a log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from floww.domain.errors import InvalidInput, Unavailable
from floww.ports.realtime import Realtime, Subscription

__all__ = ["CentrifugoRealtime"]

_log = logging.getLogger("floww.centrifugo")

Subscriber = Callable[[str], Subscription]

# How long ``close`` of a subscription waits for Centrifugo to see the client gone.
_LET_GO_S = 2.0


class CentrifugoRealtime(Realtime):
    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        http: httpx.Client | None = None,
        timeout_s: float = 2.0,
        subscriber: Subscriber | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self._http = http if http is not None else httpx.Client()
        self._timeout = httpx.Timeout(timeout_s)
        self._subscriber = subscriber

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        if not isinstance(message, dict):
            raise InvalidInput("realtime message must be a JSON object")
        try:
            data = json.loads(json.dumps(message, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"realtime message is not JSON: {exc}") from exc
        self._call("publish", {"channel": channel, "data": data})

    def subscriber_count(self, channel: str) -> int:
        result = self._call("presence_stats", {"channel": channel})
        count = result.get("num_clients", 0)
        if not isinstance(count, int):
            raise Unavailable("Centrifugo answered presence_stats without a client count")
        return count

    def subscribe(self, channel: str) -> Subscription:
        if self._subscriber is None:
            raise Unavailable(
                "this server does not listen on Centrifugo channels; clients subscribe at "
                "Centrifugo's websocket URL"
            )
        return _LettingGo(self, channel, self._subscriber(channel))

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._send(method, params)
        except Unavailable as exc:
            # Where Centrifugo lives is for the operator's log, not for errors tenants read.
            _log.warning("Centrifugo at %s: %s", self.api_url, exc)
            raise

    def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.api_url}/api/{method}"
        try:
            response = self._http.post(
                url, json=params, headers={"X-API-Key": self._api_key}, timeout=self._timeout
            )
        except httpx.TimeoutException:
            raise Unavailable(f"Centrifugo did not answer {method} in time") from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"Centrifugo cannot be reached ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise Unavailable("Centrifugo refused the API key")
        if response.status_code != 200:
            raise Unavailable(f"Centrifugo answered {method} with HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise Unavailable(f"Centrifugo answered {method} with non-JSON") from None
        if not isinstance(body, dict):
            raise Unavailable(f"Centrifugo answered {method} with non-object")
        error = body.get("error")
        if isinstance(error, dict):
            raise Unavailable(
                f"Centrifugo refused {method}: {error.get('message', '')} ({error.get('code')})",
                code=error.get("code"),
            )
        result = body.get("result", {})
        return result if isinstance(result, dict) else {}


class _LettingGo(Subscription):
    """A client subscription whose ``close`` returns once Centrifugo counts one client fewer
    on the channel (at most ``_LET_GO_S`` seconds), so a count taken after ``close`` is
    current: a websocket close is otherwise seen by the server a moment later."""

    def __init__(self, owner: CentrifugoRealtime, channel: str, inner: Subscription) -> None:
        self._owner = owner
        self._channel = channel
        self._inner = inner
        self._closed = False

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        return self._inner.get(timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            before = self._owner.subscriber_count(self._channel)
        except Unavailable:
            before = 0
        self._inner.close()
        deadline = time.monotonic() + _LET_GO_S
        while before and time.monotonic() < deadline:
            try:
                if self._owner.subscriber_count(self._channel) < before:
                    return
            except Unavailable:
                return
            time.sleep(0.02)
