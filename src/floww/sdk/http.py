"""A small JSON-over-HTTPS client for provider APIs, on the standard library only.

User code runs it inside a handler, so it must stay light (no third-party HTTP stack) and must
not block an event loop: ``await client.request(...)`` runs the call on a worker thread, with
the caller's context (the injected provider configs) carried over.

Failures become domain errors, with the provider's own error text where it sent one:

- ``PermissionDenied``: 401 / 403 (a token that is wrong, revoked or lacks the scope);
- ``NotFound``: 404;
- ``Unavailable``: the network, a timeout, 429, 5xx, a rate limit, or an answer that is not JSON;
- ``InvalidInput``: any other 4xx (the request itself was refused), and a base URL that is not
  ``http(s)``.

Credentials travel in headers only; no error message ever repeats them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from floww.domain.errors import (
    FlowwError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unavailable,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "JsonClient",
    "Transport",
    "provider_transport",
    "urlopen_transport",
]

DEFAULT_TIMEOUT = 15.0
"""Seconds one provider API call may take before it fails with ``Unavailable``."""

Transport = Callable[[urllib.request.Request, float], bytes]
"""Sends a request with a timeout and returns the response body; raises ``HTTPError`` for an
error status and ``URLError`` / ``OSError`` (timeouts included) when the server cannot be
reached. Tests inject their own; the default is ``urlopen_transport``."""


def urlopen_transport(request: urllib.request.Request, timeout: float) -> bytes:
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body: bytes = response.read()
    return body


_context_transport: ContextVar[Transport | None] = ContextVar(
    "floww_provider_transport", default=None
)


@contextlib.contextmanager
def provider_transport(transport: Transport) -> Iterator[None]:
    """Send the provider API calls made in this context through ``transport`` (unless a client
    was given its own): ``floww.testing`` records provider actions this way instead of sending
    them. The context travels into handlers, worker threads and ``asyncio`` tasks."""
    token = _context_transport.set(transport)
    try:
        yield
    finally:
        _context_transport.reset(token)


class JsonClient:
    """JSON requests to one API (``service`` names it in error messages) under ``base_url``.

    ``headers`` go with every request (the credentials among them). ``InvalidInput`` at once
    when ``base_url`` is not an absolute ``http``/``https`` URL. Requests go through
    ``transport``, else the one ``provider_transport`` set for this context, else
    ``urlopen_transport``.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: Transport | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidInput(f"{service}: api_url must be an http(s) URL, not {base_url!r}")
        self.service = service
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._transport = transport or _context_transport.get() or urlopen_transport

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """``call`` on a worker thread, so an async handler's loop keeps running."""
        return await asyncio.to_thread(
            self.call, method, path, body, form=form, raw=raw, headers=headers
        )

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send ``body`` (JSON), ``form`` (form-encoded, as Stripe's API takes it) or ``raw``
        bytes (with a ``Content-Type`` among ``headers``) to ``base_url + path``, with this
        call's extra ``headers``; the decoded JSON answer (``None`` for an empty one). Raises
        the domain errors listed in the module docstring."""
        data = raw
        content_type = None
        if body is not None:
            try:
                data = json.dumps(body, allow_nan=False).encode("utf-8")
            except (TypeError, ValueError) as exc:
                raise InvalidInput(
                    f"{self.service}: request is not JSON-serialisable: {exc}"
                ) from None
            content_type = "application/json; charset=utf-8"
        elif form is not None:
            data = urllib.parse.urlencode(dict(form)).encode("utf-8")
            content_type = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        for name, value in {**self._headers, **(headers or {})}.items():
            request.add_header(name, value)
        if content_type is not None:
            request.add_header("Content-Type", content_type)
        what = f"{method} {path}"
        try:
            raw = self._transport(request, self._timeout)
        except urllib.error.HTTPError as exc:
            raise self._status_error(exc, what) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unavailable(f"{self.service} unreachable ({what}): {reason}") from exc
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise Unavailable(f"{self.service} answered {what} with something not JSON") from exc

    def _status_error(self, exc: urllib.error.HTTPError, what: str) -> FlowwError:
        status = exc.code
        try:
            body = exc.read()
        except OSError:
            body = b""
        detail = _detail(body)
        message = f"{self.service}: {detail or exc.reason} ({status} on {what})"
        remaining = exc.headers.get("x-ratelimit-remaining") if exc.headers else None
        if status == 429 or status >= 500 or (status == 403 and remaining == "0"):
            return Unavailable(message)
        if status in (401, 403):
            return PermissionDenied(message)
        if status == 404:
            return NotFound(f"{self.service} resource", what)
        return InvalidInput(message)


def _detail(body: bytes) -> str:
    """The error text an API put in its answer: ``message`` (GitHub) or ``error`` (Slack),
    with GitHub's validation ``errors`` appended; else the start of the body."""
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    if not isinstance(doc, dict):
        return text.strip()[:300]
    detail = str(doc.get("message") or doc.get("error") or "").strip()
    errors = doc.get("errors")
    if isinstance(errors, list) and errors:
        detail += ": " + "; ".join(_one_error(e) for e in errors[:5])
    return detail[:500] or text.strip()[:300]


def _one_error(error: Any) -> str:
    if isinstance(error, dict):
        if error.get("message"):
            return str(error["message"])
        return " ".join(str(error[k]) for k in ("resource", "field", "code") if k in error)
    return str(error)
