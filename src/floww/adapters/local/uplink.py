"""The server's side of sandboxed workers' network: unix sockets, nothing else.

A sandboxed worker has a network namespace of its own (only its loopback). The server gives
it two ways out, as unix sockets bound into every sandbox (``Uplink``):

- ``api.sock`` relays each connection to the floww API, at the address the server listens on
  (``api_address``): the worker's ``ctx.kv`` and the platform's other routes, nothing else of
  this machine;
- ``egress.sock`` is the egress proxy (``floww.adapters.local.egress_proxy``): HTTP and
  ``CONNECT`` to public internet addresses, under ``EgressRules``.

Inside the sandbox, ``floww.adapters.local.sandbox_relay`` puts them on loopback ports.

Each uid (one namespace's sandboxes) gets sockets of its own (``Uplinks.of``, made the first
time it is asked for), so one namespace's flood fills only its own accept backlog, never
another's. A uid holds at most ``connections_per_uid`` connections through them at once, and
all uids together at most what ``fd_budget`` open files allow (an API connection costs 3: the
sandbox's, the one to the API and the API's end of it, in this process; a tunnel 2); past
either bound a new connection is answered ``503`` and closed at once. ``fd_budget`` is half
the open-file limit by default, which ``start`` first raises to its hard limit where it may.

``SandboxNetwork.start`` makes the sockets' directory (owner-only: only the sandboxes, bound
to their own sockets, reach them) and serves them on one event loop in a daemon thread;
``close`` stops it. Both ``start`` and ``Uplinks.of`` raise ``OSError`` when the sockets
cannot be made.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import os
import resource
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs

from floww.adapters.local.egress_proxy import MAX_HEAD_BYTES, EgressProxy, answer
from floww.adapters.local.egress_rules import EgressRules
from floww.adapters.local.sandbox_relay import relay

__all__ = ["SandboxNetwork", "Uplink", "Uplinks", "raise_open_files_limit"]

log = logging.getLogger(__name__)

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]

# Open files each kind of connection costs the server (see the module's docstring).
API_FDS = 3
EGRESS_FDS = 2
# The longest socket path under the directory: a unix socket path holds 107 bytes.
_LONGEST = "u4294967295/egress.sock"
_SUN_PATH_MAX = 107
# Each uid's own accept backlog; asyncio also accepts up to this many at once, each an open
# file until it is refused: a flood's cost past the bound stays this small.
_BACKLOG = 128


@attrs.frozen
class Uplink:
    """Where one uid's sockets are on the host: bound into its sandboxes."""

    api_socket: str
    egress_socket: str

    def of(self, uid: int) -> Uplink:
        """These sockets, whatever the uid (a fixed pair, as tests make)."""
        return self


@attrs.frozen
class Uplinks:
    """The sockets of every uid, under ``directory``; ``of(uid)`` makes a uid's if missing."""

    directory: str
    make: Callable[[int], Uplink] = attrs.field(eq=False, repr=False)

    def of(self, uid: int) -> Uplink:
        """``uid``'s own sockets (made, and served, the first time)."""
        return self.make(uid)


class SandboxNetwork:
    """Serves, for each uid, an ``api.sock`` (relayed to ``api_address``, the host and port
    the server listens on; an all-interfaces address means its loopback) and an
    ``egress.sock`` (``proxy``; by default one under the default ``EgressRules``)."""

    def __init__(
        self,
        api_address: tuple[str, int],
        proxy: EgressProxy | None = None,
        *,
        connections_per_uid: int = 256,
        fd_budget: int | None = None,
    ) -> None:
        host, port = api_address
        self.api_address = (_reachable(host), port)
        self.proxy = proxy or EgressProxy(EgressRules())
        self.connections_per_uid = connections_per_uid
        self.fd_budget = fd_budget
        self._open: collections.Counter[int] = collections.Counter()
        self._fds_used = 0
        self._budget_spent = False
        self._clients: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._directory: Path | None = None
        self._uplinks: dict[int, Uplink] = {}
        self._making = threading.Lock()
        self._servers: list[asyncio.AbstractServer] = []

    def start(self, directory: Path) -> Uplinks:
        """Serve uids' sockets in ``directory`` (owner-only, made if missing)."""
        if len(os.fsencode(directory / _LONGEST)) > _SUN_PATH_MAX:
            raise OSError(
                errno.ENAMETOOLONG, f"{directory} is too long a path for unix sockets under it"
            )
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        limit = raise_open_files_limit()
        if self.fd_budget is None:
            self.fd_budget = limit // 2
        self._directory = directory
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="floww-sandbox-network", daemon=True
        )
        self._thread.start()
        return Uplinks(str(directory), self._uplink_of)

    def connections(self) -> int:
        """How many connections the sockets hold now, refused ones until they are closed."""
        return len(self._clients)

    def _uplink_of(self, uid: int) -> Uplink:
        with self._making:
            known = self._uplinks.get(uid)
            if known is not None:
                return known
            loop, directory = self._loop, self._directory
            if loop is None or directory is None:
                raise OSError(errno.ESHUTDOWN, "the sandbox network is not running")
            folder = directory / f"u{uid}"
            folder.mkdir(exist_ok=True, mode=0o700)
            uplink = Uplink(str(folder / "api.sock"), str(folder / "egress.sock"))
            future = asyncio.run_coroutine_threadsafe(self._listen(uid, uplink), loop)
            self._servers.extend(future.result(timeout=30))
            self._uplinks[uid] = uplink
            return uplink

    async def _listen(self, uid: int, uplink: Uplink) -> list[asyncio.AbstractServer]:
        servers: list[asyncio.AbstractServer] = []
        try:
            for path, serve, cost, limit in (
                (uplink.api_socket, self._api, API_FDS, 2**16),
                (uplink.egress_socket, self.proxy.serve, EGRESS_FDS, MAX_HEAD_BYTES),
            ):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # left by an earlier server
                servers.append(
                    await asyncio.start_unix_server(
                        self._bounded(serve, cost), path, limit=limit, backlog=_BACKLOG
                    )
                )
                # The owner-only directory keeps everyone out; the uid's sandboxes get the
                # socket itself bound.
                os.chmod(path, 0o666)
        except BaseException:
            for server in servers:
                server.close()
            raise
        return servers

    def close(self) -> None:
        """Stop serving (idempotent); connections still open are dropped."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with self._making:
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
            if pending:  # let them end before the loop stops
                await asyncio.wait(pending, timeout=1)

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self.proxy.close()
        if not thread.is_alive():
            loop.close()

    def _bounded(
        self, serve: Serve, cost: int
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        """``serve`` for up to ``connections_per_uid`` connections open at once from one uid
        (a namespace's sandboxes, all of them together: the kernel names the peer's uid), and
        while all uids' connections together stay within ``fd_budget`` open files; past
        either ``503``, at once, so no namespace can use up the server's open files."""

        async def bounded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            uid = _peer_uid(writer)
            self._clients.add(writer)
            try:
                reason = self._over(uid, cost)
                if reason is not None:
                    # Unix sockets keep an answer the peer has not read when the server closes
                    # with its request unread: no need to wait for the client.
                    answer(writer, 503, reason, "floww sandbox uplink")
                    writer.transport.abort()
                    return
                self._open[uid] += 1
                self._fds_used += cost
                try:
                    await serve(reader, writer, uid)
                except asyncio.CancelledError:
                    # Only ``close`` cancels (a connection waiting on a lookup): end quietly,
                    # as Python 3.11's streams log a cancelled connection's task as an error.
                    writer.transport.abort()
                finally:
                    self._fds_used -= cost
                    self._open[uid] -= 1
                    if not self._open[uid]:
                        del self._open[uid]
            finally:
                self._clients.discard(writer)

        return bounded

    def _over(self, uid: int, cost: int) -> str | None:
        if self._open[uid] >= self.connections_per_uid:
            return (
                f"this namespace's sandboxes hold {self.connections_per_uid} connections "
                "through the server already; close some first"
            )
        if self.fd_budget is not None and self._fds_used + cost > self.fd_budget:
            if not self._budget_spent:  # once until there is room again, not per connection
                self._budget_spent = True
                log.warning(
                    "sandbox uplink: sandboxes' connections hold %d open files of the %d "
                    "allowed; new ones are refused (uid %d's first)",
                    self._fds_used,
                    self.fd_budget,
                    uid,
                )
            return "the server holds as many sandbox connections as it can; try again later"
        if self._budget_spent and self.fd_budget is not None:
            self._budget_spent = self._fds_used + cost > self.fd_budget * 3 // 4
        return None

    async def _api(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        uid: int,
    ) -> None:
        host, port = self.api_address
        try:
            upstream = await asyncio.open_connection(host, port)
        except OSError as exc:
            log.warning("a sandboxed worker's API connection to %s:%d failed: %s", host, port, exc)
            writer.close()
            return
        await relay((reader, writer), upstream)


def raise_open_files_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit where allowed; the soft
    limit then in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:  # Linux caps it at fs.nr_open anyway
        try:
            target = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            target = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as exc:
            log.warning(
                "the open-file limit stays %d (raising it to %d failed: %s)", soft, target, exc
            )
            return soft
        return target
    return target if soft == resource.RLIM_INFINITY else soft


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
