"""The server's side of sandboxed workers' network: two unix sockets, nothing else.

A sandboxed worker has a network namespace of its own (only its loopback). The server gives
it two ways out, as unix sockets bound into every sandbox (``Uplink``):

- ``api.sock`` relays each connection to the floww API, at the address the server listens on
  (``api_address``): the worker's ``ctx.kv`` and the platform's other routes, nothing else of
  this machine;
- ``egress.sock`` is the egress proxy (``floww.adapters.local.egress_proxy``): HTTP and
  ``CONNECT`` to public internet addresses, under ``EgressRules``.

Inside the sandbox, ``floww.adapters.local.sandbox_relay`` puts them on loopback ports.
``SandboxNetwork.start`` makes the sockets in a directory of the server (connectable by every
sandbox uid; the directory keeps everyone else out) and serves them on one event loop in a
daemon thread; ``close`` stops it. Both raise ``OSError`` when the sockets cannot be made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from pathlib import Path

import attrs

from floww.adapters.local.egress_proxy import MAX_HEAD_BYTES, EgressProxy
from floww.adapters.local.egress_rules import EgressRules
from floww.adapters.local.sandbox_relay import relay

__all__ = ["SandboxNetwork", "Uplink"]

log = logging.getLogger(__name__)


@attrs.frozen
class Uplink:
    """Where the server's sockets are on the host: bound into each sandbox."""

    api_socket: str
    egress_socket: str


class SandboxNetwork:
    """Serves ``api.sock`` (relayed to ``api_address``, the host and port the server listens
    on; an all-interfaces address means its loopback) and ``egress.sock`` (``proxy``; by
    default one under the default ``EgressRules``)."""

    def __init__(self, api_address: tuple[str, int], proxy: EgressProxy | None = None) -> None:
        host, port = api_address
        self.api_address = (_reachable(host), port)
        self.proxy = proxy or EgressProxy(EgressRules())
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
                loop.run_until_complete(asyncio.start_unix_server(self._api, uplink.api_socket)),
                loop.run_until_complete(
                    asyncio.start_unix_server(
                        self.proxy.serve, uplink.egress_socket, limit=MAX_HEAD_BYTES
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
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()

    async def _api(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.api_address
        try:
            upstream = await asyncio.open_connection(host, port)
        except OSError as exc:
            log.warning("a sandboxed worker's API connection to %s:%d failed: %s", host, port, exc)
            writer.close()
            return
        await relay((reader, writer), upstream)


def _reachable(host: str) -> str:
    """Where to reach a server listening on ``host`` from this machine."""
    if host in {"", "0.0.0.0"}:
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host.strip("[]")
