"""Limits on what one HTTP connection may make the server hold, enforced while the request head
is parsed, before any route (or the ASGI app at all) sees it.

uvicorn's httptools protocol accepts a request head of any size and any number of headers, and
waits for a slow client forever: a 64 MiB header became a 64 MiB execution row. This protocol
adds four bounds to it:

- the request head (request line and headers) may be at most ``max_header_bytes``: past it the
  server answers ``431`` and closes the connection. Bytes are counted as they arrive, so the
  parser never buffers more than the limit plus one read;
- at most ``max_headers`` header lines (``431`` likewise);
- the head must arrive within ``header_timeout_s`` of the connection opening (or of the first
  byte of a later request on a kept-alive connection): ``408`` and closed otherwise. A client
  that connects and sends nothing is closed the same way;
- while a body is being read, ``body_timeout_s`` may pass between two of its chunks at most
  (as nginx's ``client_body_timeout``; a total would cut off large registry uploads on slow
  links): otherwise ``408`` (when nothing was answered yet) and the connection is closed; the
  app sees a disconnect. Time while the server itself stopped reading (the app is slow to
  consume the body) does not count.

Bodies keep their own size limit in the routes (``413``). A response's head and body leave in
one send (``coalescing.py``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import attrs
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from floww.entrypoints.http.coalescing import CoalescingTransport
from floww.settings import Settings

__all__ = ["ConnectionLimits", "limited_protocol", "serving_protocol"]


@attrs.frozen
class ConnectionLimits:
    max_header_bytes: int = 32_768
    max_headers: int = 100
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0


def limited_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """The uvicorn ``http`` protocol class enforcing ``limits``."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})


def serving_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """The protocol class ``floww serve`` runs uvicorn with, bounded by ``settings``."""
    return limited_protocol(
        ConnectionLimits(
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
        )
    )


def _answer(status: int, reason: str, error_type: str, message: str) -> bytes:
    body = json.dumps({"error": {"type": error_type, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


_TOO_LARGE = "request headers are too large or too many"
_EARLY_S = 0.005
"""A timer that fires this close before its deadline has reached it (uvloop rounds timers to
the millisecond and may fire one early: re-arming then would spin until the clock ticks)."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._field_bytes = 0
        self._head_count = 0
        self._closed_by_limit = False
        # One timer per connection: arming moves ``_deadline`` and schedules a timer only when
        # none is due by then (a timer per request phase, made and cancelled, cost more than
        # the limits' bookkeeping); a timer that fires early re-arms itself for the deadline.
        self._read_timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._deadline: float | None = None
        self._last_read = 0.0

    # connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # a response's head and body leave in one send (coalescing.py)
        coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._closed_by_limit:
            return
        super().data_received(data)
        if self._in_head and not self._closed_by_limit:
            # Still inside a head: everything read since it began is head (at most one read
            # of a previous message's tail is counted too).
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, "Request Header Fields Too Large", "HeadersTooLarge", _TOO_LARGE)

    # parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._field_bytes = 0
        self._head_count = 0
        if self._deadline is None:
            self._arm(self.limits.header_timeout_s)

    def on_url(self, url: bytes) -> None:
        if not self._closed_by_limit:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._closed_by_limit:
            return
        self._head_count += 1
        self._field_bytes += len(name) + len(value) + 4
        if (
            self._head_count > self.limits.max_headers
            or self._field_bytes > self.limits.max_header_bytes
        ):
            self._refuse(431, "Request Header Fields Too Large", "HeadersTooLarge", _TOO_LARGE)
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._closed_by_limit:
            return
        self._in_head = False
        self._disarm()
        upgrading = self.parser.should_upgrade() and self._should_upgrade()
        super().on_headers_complete()
        if not upgrading:
            self._arm(self.limits.body_timeout_s)

    def on_body(self, body: bytes) -> None:
        if not self._closed_by_limit:
            self._last_read = self.loop.time()
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._closed_by_limit:
            return
        self._disarm()
        super().on_message_complete()

    # limits -------------------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._last_read = now = self.loop.time()
        self._deadline = deadline = now + seconds
        self._schedule(deadline)

    def _schedule(self, when: float) -> None:
        if self._read_timer is not None:
            if self._timer_at <= when:
                return  # the timer due first re-arms itself for the deadline
            self._read_timer.cancel()
        self._timer_at = when
        self._read_timer = self.loop.call_at(when, self._read_timed_out)

    def _disarm(self) -> None:
        self._deadline = None  # a pending timer finds nothing to do

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self._deadline is None or self.transport.is_closing():
            return
        if self.loop.time() < self._deadline - _EARLY_S:
            self._schedule(self._deadline)
            return
        if self._in_head:
            why = "the request head did not arrive in time"
        else:
            quiet = self.loop.time() - self._last_read
            if self.flow.read_paused:
                # the app is the slow one: the client gets a full period once reading resumes
                self._arm(self.limits.body_timeout_s)
                return
            if quiet < self.limits.body_timeout_s:  # a chunk came since the timer was set
                self._deadline = self._last_read + self.limits.body_timeout_s
                self._schedule(self._deadline)
                return
            why = "the request body stalled"
        self._refuse(408, "Request Timeout", "RequestTimeout", why)

    def _refuse(self, status: int, reason: str, error_type: str, message: str) -> None:
        """Answer (unless a response already began) and close; the rest of the connection's
        input is ignored."""
        self._closed_by_limit = True
        self._disarm()
        self.logger.warning("closing a connection from %s: %s", self._peer(), message)
        answered = self.cycle is not None and not self._in_head and self.cycle.response_started
        if not answered and not self.transport.is_closing():
            self.transport.write(_answer(status, reason, error_type, message))
        if self.cycle is not None and not self._in_head:
            self.cycle.keep_alive = False
        self.transport.close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "an unknown peer"
