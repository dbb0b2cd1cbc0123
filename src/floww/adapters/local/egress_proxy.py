"""The egress proxy of sandboxed workers: HTTP requests out to the internet, nowhere else.

``EgressProxy.serve`` answers one client connection as an HTTP forward proxy:

- ``CONNECT host:port`` (https, or any protocol over TLS) opens a tunnel: ``200 Connection
  established``, then bytes both ways until either side closes;
- a request in absolute form (``GET http://host[:port]/path HTTP/1.1``) is sent on to the
  destination in origin form, with ``Connection: close`` and without the ``Proxy-*``
  headers, and the answer relayed back; one request per connection.

The proxy resolves the destination itself and connects only to an address its
``EgressRules`` accept, so a name cannot point it at a refused address after the check (DNS
rebinding): where none of the addresses is accepted it answers ``403`` with the reason as the
body. ``400`` for a request it cannot read (origin form, another scheme, no port), ``431`` for
a head over ``MAX_HEAD_BYTES``, ``502`` when the name does not resolve or no address answers,
``504`` when resolving takes longer than ``dns_timeout`` or connecting longer than
``connect_timeout``; a head that does not arrive within ``head_timeout`` closes the
connection. Names resolve on threads of the proxy's own, a few at once per uid at most.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import ipaddress
import logging
import socket
import urllib.parse
from collections.abc import Awaitable, Callable

from floww.adapters.local.egress_rules import Address, EgressRules
from floww.adapters.local.sandbox_relay import relay

__all__ = ["MAX_HEAD_BYTES", "EgressProxy", "Resolve", "answer", "refuse"]

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
# How long, and how much of a request, a refusal reads before it closes.
_LINGER_S = 2.0
_LINGER_BYTES = 1024 * 1024
# The headers a proxy consumes or that describe the client's connection to it.
_HOP_HEADERS = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"proxy-authorization",
    b"proxy-authenticate",
    b"te",
    b"trailer",
    b"upgrade",
}
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

Resolve = Callable[[str, int], Awaitable[list[Address]]]


class _Answer(Exception):
    """The proxy answers the client with ``status`` and ``reason`` and closes."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class EgressProxy:
    """Serves the proxy protocol under ``rules``; ``resolve`` replaces name resolution (the
    system's, by default, on ``resolver_threads`` threads of the proxy's own). A name gets
    ``dns_timeout`` seconds to resolve (``504`` past it, waiting for a free lookup included);
    one uid has at most ``lookups_per_uid`` lookups running at once (a lookup that timed out
    counts until its thread is done), so no namespace holds all the threads."""

    def __init__(
        self,
        rules: EgressRules,
        *,
        resolve: Resolve | None = None,
        connect_timeout: float = 10.0,
        head_timeout: float = 30.0,
        dns_timeout: float = 5.0,
        lookups_per_uid: int = 4,
        resolver_threads: int = 16,
    ) -> None:
        self.rules = rules
        self._resolve = resolve or self._system_resolve
        self._connect_timeout = connect_timeout
        self._head_timeout = head_timeout
        self._dns_timeout = dns_timeout
        self._lookups_per_uid = lookups_per_uid
        self._resolver_threads = resolver_threads
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lookups: collections.Counter[int] = collections.Counter()
        self._lookup_done: asyncio.Event | None = None

    def close(self) -> None:
        """Let go of the resolver threads (lookups still running end on their own)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _system_resolve(self, host: str, port: int) -> list[Address]:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self._resolver_threads, thread_name_prefix="floww-egress-dns"
            )
        found = await asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        )
        addresses: list[Address] = []
        for _family, _type, _proto, _name, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
            if address not in addresses:
                addresses.append(address)
        return addresses

    async def _lookup(self, host: str, port: int, uid: int) -> list[Address]:
        """``host``'s addresses (an address as it is), under the lookup bounds."""
        with contextlib.suppress(ValueError):
            return [ipaddress.ip_address(host)]
        try:
            async with asyncio.timeout(self._dns_timeout):
                while self._lookups[uid] >= self._lookups_per_uid:
                    if self._lookup_done is None:
                        self._lookup_done = asyncio.Event()
                    await self._lookup_done.wait()
                self._lookups[uid] += 1
                lookup = asyncio.ensure_future(self._resolve(host, port))
                lookup.add_done_callback(functools.partial(self._looked_up, uid))
                return await asyncio.shield(lookup)
        except TimeoutError:
            raise _Answer(504, f"{host} did not resolve within {self._dns_timeout:g} s") from None

    def _looked_up(self, uid: int, lookup: asyncio.Future[list[Address]]) -> None:
        if not lookup.cancelled():
            lookup.exception()  # retrieved: a late failure is no one's to report
        self._lookups[uid] -= 1
        if self._lookups[uid] <= 0:
            del self._lookups[uid]
        if self._lookup_done is not None:
            self._lookup_done.set()
            self._lookup_done = None

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, uid: int = -1
    ) -> None:
        """Answer one client connection of ``uid`` (its ``reader`` should be limited to
        ``MAX_HEAD_BYTES``)."""
        try:
            try:
                head = await asyncio.wait_for(
                    reader.readuntil(b"\r\n\r\n"), timeout=self._head_timeout
                )
            except asyncio.LimitOverrunError:
                raise _Answer(431, "the request's head is too large") from None
            except (asyncio.IncompleteReadError, TimeoutError, OSError):
                writer.close()
                return
            method, target, lines = _request_line(head)
            if method == b"CONNECT":
                host, port = _authority(target.decode("latin-1"))
                upstream = await self._open(host, port, uid)
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                host, port, path = _absolute(target.decode("latin-1"))
                upstream = await self._open(host, port, uid)
                upstream[1].write(_forwarded(method, path, host, port, lines))
        except _Answer as answer:
            await refuse(reader, writer, answer.status, answer.reason)
            return
        await relay((reader, writer), upstream)

    async def _open(
        self, host: str, port: int, uid: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the first accepted address of ``host`` that answers."""
        try:
            addresses = await self._lookup(host, port, uid)
        except (OSError, UnicodeError, ValueError) as exc:
            raise _Answer(502, f"{host} could not be resolved: {exc}") from None
        refusals = []
        accepted = []
        for address in addresses:
            why = self.rules.refusal(host, address)
            if why is None:
                accepted.append(address)
            else:
                refusals.append(why)
        if not accepted:
            reason = refusals[0] if refusals else f"{host} has no address"
            shown = ", ".join(map(str, addresses))
            log.info("egress refused (uid %d, %s: %s): %s", uid, host, shown or "-", reason)
            raise _Answer(403 if refusals else 502, reason)
        failures = []
        for address in accepted:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(str(address), port), timeout=self._connect_timeout
                )
            except TimeoutError:
                failures.append(f"{address} did not answer within {self._connect_timeout:g} s")
            except OSError as exc:
                failures.append(f"{address}: {exc.strerror or exc}")
        timed_out = all("did not answer" in f for f in failures)
        raise _Answer(
            504 if timed_out else 502, f"{host}:{port} could not be reached: " + "; ".join(failures)
        )


def _request_line(head: bytes) -> tuple[bytes, bytes, list[bytes]]:
    first, *lines = head[:-4].split(b"\r\n")
    parts = first.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise _Answer(400, "this is an HTTP/1.1 forward proxy: the request line is not HTTP/1.x")
    return parts[0].upper(), parts[1], lines


def _authority(target: str) -> tuple[str, int]:
    """``host:port`` of a ``CONNECT`` (``[v6]:port`` for an IPv6 address)."""
    host, sep, port = target.rpartition(":")
    host = host.strip("[]")
    # isdigit alone also takes digits int() does not read, such as "³"
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise _Answer(400, f"CONNECT needs host:port, not {target!r}")
    return host, int(port)


def _absolute(target: str) -> tuple[str, int, str]:
    """Host, port and origin-form path of an absolute-form ``http://`` target."""
    if not target.lower().startswith("http://"):
        raise _Answer(
            400,
            "this is a forward proxy: send absolute http:// URLs, and CONNECT host:port for "
            f"https (not {target[:80]!r})",
        )
    try:
        url = urllib.parse.urlsplit(target)
        port = url.port or 80
    except ValueError as exc:
        raise _Answer(400, f"the URL {target[:80]!r} cannot be read: {exc}") from None
    if not url.hostname:
        raise _Answer(400, f"the URL {target[:80]!r} names no host")
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    return url.hostname, port, path


def _forwarded(method: bytes, path: str, host: str, port: int, lines: list[bytes]) -> bytes:
    named = [h for line in lines if (h := line.split(b":", 1)[0].strip().lower())]
    dropped = set(_HOP_HEADERS)
    for line in lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"connection":
            dropped.update(v.strip().lower() for v in value.split(b","))
    kept = [line for line in lines if line.split(b":", 1)[0].strip().lower() not in dropped]
    if b"host" not in named:
        shown = f"[{host}]" if ":" in host else host
        kept.insert(0, f"Host: {shown}{'' if port == 80 else f':{port}'}".encode("latin-1"))
    first = method + b" " + path.encode("latin-1") + b" HTTP/1.1"
    return b"\r\n".join([first, *kept, b"Connection: close", b"", b""])


def answer(
    writer: asyncio.StreamWriter, status: int, reason: str, speaker: str = "floww egress proxy"
) -> None:
    """Write ``status`` with ``reason`` (said by ``speaker``) as a plain-text body."""
    body = f"{speaker}: {reason}\n".encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    with contextlib.suppress(OSError, RuntimeError):
        writer.write(head + body)


async def refuse(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    status: int,
    reason: str,
    speaker: str = "floww egress proxy",
) -> None:
    """``answer``, and close once the client has (for a moment at most): closing with its
    request unread would reset the connection, and a client on TCP could lose the answer."""
    answer(writer, status, reason, speaker)
    with contextlib.suppress(OSError, RuntimeError, TimeoutError):
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(_LINGER_S):
            left = _LINGER_BYTES
            while left > 0 and (unread := await reader.read(min(left, 65536))):
                left -= len(unread)
    writer.close()
