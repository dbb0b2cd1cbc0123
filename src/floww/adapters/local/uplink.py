"""The server's side of sandboxed workers' network: two unix sockets, nothing else.

A sandboxed worker has a network namespace of its own (only its loopback). The server gives
it two ways out, as unix sockets bound into every sandbox (``Uplink``):

- ``api.sock`` relays each connection to the floww API, at the address the server listens on
  (``api_address``): the worker's ``ctx.kv`` and the platform's other routes, nothing else of
  this machine;
- ``egress.sock`` is the egress proxy (``floww.adapters.local.egress_proxy``): HTTP and
  ``CONNECT`` to public internet addresses, under ``EgressRules``.

Inside the sandbox, ``floww.adapters.local.sandbox_relay`` puts them on loopback ports. Each
uid (one namespace's sandboxes) holds at most ``connections_per_uid`` connections through them
at once; past that a new one is answered ``503``.
``SandboxNetwork.start`` makes the sockets in a directory of the server (connectable by every
sandbox uid; the directory keeps everyone else out) and serves them on one event loop in a
daemon thread; ``close`` stops it. Both raise ``OSError`` when the sockets cannot be made.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs

from floww.adapters.local.egress_proxy import MAX_HEAD_BYTES, EgressProxy, refuse
from floww.adapters.local.egress_rules import EgressRules
from floww.adapters.local.sandbox_relay import relay

__all__ = ["SandboxNetwork", "Uplink"]

log = logging.getLogger(__name__)

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@attrs.frozen
class Uplink:
    """Where the server's sockets are on the host: bound into each sandbox."""

    api_socket: str
    egress_socket: str


class SandboxNetwork:
    """Serves ``api.sock`` (relayed to ``api_address``, the host and port the server listens
    on; an all-interfaces address means its loopback) and ``egress.sock`` (``proxy``; by
    default one under the default ``EgressRules``)."""

    def __init__(
        self,
        api_address: tuple[str, int],
        proxy: EgressProxy | None = None,
        *,
        connections_per_uid: int = 256,
    ) -> None:
        host, port = api_address
        self.api_address = (_reachable(host), port)
        self.proxy = proxy or EgressProxy(EgressRules())
        self.connections_per_uid = connections_per_uid
        self._open: collections.Counter[int] = collections.Counter()
        self._clients: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []

    def start(self, directory: Path) -> Uplink:
        """Make and serve the sockets in ``directory`` (owner-only, made if missing)."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        uplink = Uplink(str(directory / "api.sock"), str(directory / "egress.sock"))
        loop = asyncio.new_event_loop()
        try:
            self._servers = [
                loop.run_until_complete(
                    asyncio.start_unix_server(self._bounded(self._api), uplink.api_socket)
                ),
                loop.run_until_complete(
                    asyncio.start_unix_server(
                        self._bounded(self.proxy.serve), uplink.egress_socket, limit=MAX_HEAD_BYTES
                    )
                ),
            ]
            for path in (uplink.api_socket, uplink.egress_socket):
                # Every namespace's uid connects; the owner-only directory keeps others out.
                os.chmod(path, 0o666)
        except BaseException:
            loop.close()
            raise
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="floww-sandbox-network", daemon=True
        )
        self._thread.start()
        return uplink

    def close(self) -> None:
        """Stop serving (idempotent); connections still open are dropped."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None

        async def stop() -> None:
            for server in self._servers:
                server.close()
            # Ending the connections ends their tasks (cancelling them instead makes
            # Python 3.11's streams log an error for each).
            for writer in list(self._clients):
                writer.transport.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            _, pending = await asyncio.wait(tasks, timeout=2) if tasks else (set(), set())
            for task in pending:
                task.cancel()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()

    def _bounded(self, serve: Serve) -> Serve:
        """``serve`` for up to ``connections_per_uid`` connections open at once from one uid
        (a namespace's sandboxes, all of them together: the kernel names the peer's uid);
        past it ``503``, so one namespace cannot use up the server's open files."""

        async def bounded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            uid = _peer_uid(writer)
            if self._open[uid] >= self.connections_per_uid:
                reason = (
                    f"this namespace's sandboxes hold {self.connections_per_uid} connections "
                    "through the server already; close some first"
                )
                await refuse(reader, writer, 503, reason, "floww sandbox uplink")
                return
            self._open[uid] += 1
            self._clients.add(writer)
            try:
                await serve(reader, writer)
            finally:
                self._clients.discard(writer)
                self._open[uid] -= 1
                if not self._open[uid]:
                    del self._open[uid]

        return bounded

    async def _api(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.api_address
        try:
            upstream = await asyncio.open_connection(host, port)
        except OSError as exc:
            log.warning("a sandboxed worker's API connection to %s:%d failed: %s", host, port, exc)
            writer.close()
            return
        await relay((reader, writer), upstream)


def _peer_uid(writer: asyncio.StreamWriter) -> int:
    """The uid of the process at the other end of a unix socket (-1 when unknown)."""
    sock = writer.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (AttributeError, OSError):
        return -1
    return int(struct.unpack("3i", creds)[1])


def _reachable(host: str) -> str:
    """Where to reach a server listening on ``host`` from this machine."""
    if host in {"", "0.0.0.0"}:
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host.strip("[]")
