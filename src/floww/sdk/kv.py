"""``ctx.kv``: a key-value store shared by a namespace's workflows, over a pluggable backend.

Values are JSON. The default backend calls the platform's API with the invocation's
execution-scoped token:

    GET    {api_url}/api/kv/{key}        -> {"value": ...}      (404 when absent)
    PUT    {api_url}/api/kv/{key}        <- {"value": ...}
    DELETE {api_url}/api/kv/{key}                               (404 when absent: ignored)
    GET    {api_url}/api/kv?prefix=...   -> {"items": [{"key", "value"}, ...]}

HTTP failures become domain errors: ``Unauthenticated`` (401), ``PermissionDenied`` (403),
``InvalidInput`` (other 4xx), ``Unavailable`` (5xx, network).
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

from floww.domain.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from floww.sdk.http import Transport, urlopen_transport

__all__ = [
    "HttpKvBackend",
    "InMemoryKvBackend",
    "KvBackend",
    "KvStore",
    "Transport",
    "urlopen_transport",
]


class KvBackend(Protocol):
    def get(self, key: str) -> Any:
        """The value of ``key``; ``NotFound`` when absent."""

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are not an error."""

    def list(self, prefix: str = "") -> dict[str, Any]:
        """Every item whose key starts with ``prefix``, by key."""


class KvStore:
    """The store handed to handlers as ``ctx.kv``."""

    def __init__(self, backend: KvBackend) -> None:
        self._backend = backend

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self._backend.get(_key(key))
        except NotFound:
            return default

    def set(self, key: str, value: Any) -> None:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"kv value for {key!r} is not JSON-serialisable: {exc}") from None
        self._backend.set(_key(key), value)

    def delete(self, key: str) -> None:
        self._backend.delete(_key(key))

    def list(self, prefix: str = "") -> dict[str, Any]:
        """Items whose key starts with ``prefix``, sorted by key."""
        return dict(sorted(self._backend.list(prefix).items()))


def _key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"kv key must be a non-empty string, not {key!r}")
    return key


class InMemoryKvBackend(KvBackend):
    """A process-local backend: for tests and for running handlers without a platform."""

    def __init__(self, items: dict[str, Any] | None = None) -> None:
        self._items: dict[str, str] = {}
        self._lock = threading.Lock()
        for key, value in (items or {}).items():
            self.set(key, value)

    def get(self, key: str) -> Any:
        with self._lock:
            if key not in self._items:
                raise NotFound("kv key", key)
            return json.loads(self._items[key])

    def set(self, key: str, value: Any) -> None:
        # Stored as JSON text so a caller mutating its value afterwards changes nothing here.
        with self._lock:
            self._items[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def list(self, prefix: str = "") -> dict[str, Any]:
        with self._lock:
            return {k: json.loads(v) for k, v in self._items.items() if k.startswith(prefix)}


class HttpKvBackend(KvBackend):
    """The platform's KV API, called with an execution-scoped bearer token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: Transport | None = None,
    ) -> None:
        self._base = api_url.rstrip("/") + "/api/kv"
        self._token = token
        self._timeout = timeout
        self._transport = transport or urlopen_transport

    def get(self, key: str) -> Any:
        return self._call("GET", _quote(key))["value"]

    def set(self, key: str, value: Any) -> None:
        self._call("PUT", _quote(key), {"value": value})

    def delete(self, key: str) -> None:
        with contextlib.suppress(NotFound):
            self._call("DELETE", _quote(key))

    def list(self, prefix: str = "") -> dict[str, Any]:
        answer = self._call("GET", "?" + urllib.parse.urlencode({"prefix": prefix}))
        items = answer.get("items", [])
        if isinstance(items, dict):
            return dict(items)
        return {item["key"]: item["value"] for item in items}

    def _call(self, method: str, suffix: str, body: Any = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self._base + suffix, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            raw = self._transport(request, self._timeout)
        except urllib.error.HTTPError as exc:
            raise _error(exc.code, suffix, exc.read()) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise Unavailable(f"kv API unreachable: {exc}") from exc
        if not raw:
            return {}
        answer = json.loads(raw)
        return answer if isinstance(answer, dict) else {}


def _quote(key: str) -> str:
    return "/" + urllib.parse.quote(key, safe="")


def _error(status: int, suffix: str, body: bytes) -> Exception:
    detail = body.decode("utf-8", "replace")[:300]
    if status == 404:
        return NotFound("kv key", urllib.parse.unquote(suffix.lstrip("/")))
    if status == 401:
        return Unauthenticated(f"kv API refused the execution token: {detail}")
    if status == 403:
        return PermissionDenied(f"kv API denied access: {detail}")
    if 400 <= status < 500:
        return InvalidInput(f"kv API rejected the request ({status}): {detail}")
    return Unavailable(f"kv API failed ({status}): {detail}")
