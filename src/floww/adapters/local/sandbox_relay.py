"""The sandbox's uplink relay: loopback ports inside a sandbox that lead to unix sockets.

A sandboxed worker has a network namespace of its own: only its own loopback, nothing of the
host's. The sandbox starts this file as a script (``python -I -S sandbox_relay.py --listen
PORT=SOCKET ... -- COMMAND...``), after the drop to the namespace's uid and under its limits.
It listens on ``127.0.0.1:PORT`` for each ``--listen``, then runs ``COMMAND`` (the worker) as
its child with the same standard input, output and error, relays every connection to one of
its ports to a new connection to ``SOCKET``, and exits as the worker does: with its exit
code, or by the signal that killed it.

The sockets are bound into the sandbox by the server (``floww.adapters.local.uplink``), whose
side of them decides what they reach: the floww API, the egress proxy. Nothing here adds
access: the handler could connect to the same sockets itself.

Standard library only: it runs in isolated mode (``-I``) before anything of the image is
importable. ``pipe`` is also used on the server's side of the sockets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when needed: the worker is started first (see ``main``)
    from asyncio import StreamReader as Reader
    from asyncio import StreamWriter as Writer

__all__ = ["main", "pipe", "relay"]

_CHUNK = 64 * 1024


async def pipe(reader: Reader, writer: Writer) -> None:
    """Copy ``reader`` to ``writer`` until end of input, then half-close ``writer``; on an
    error, close it."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.close()


async def relay(a: tuple[Reader, Writer], b: tuple[Reader, Writer]) -> None:
    """Copy both ways between two connections until both ends are done, then close both."""
    import asyncio

    try:
        await asyncio.gather(pipe(a[0], b[1]), pipe(b[0], a[1]))
    finally:
        for _, writer in (a, b):
            writer.close()
            with contextlib.suppress(OSError, RuntimeError):
                await writer.wait_closed()


def _forwarder(path: str) -> Callable[[Reader, Writer], Awaitable[None]]:
    import asyncio

    async def forward(reader: Reader, writer: Writer) -> None:
        try:
            upstream = await asyncio.open_unix_connection(path)
        except OSError:
            writer.close()
            return
        await relay((reader, writer), upstream)

    return forward


def _parse(argv: Sequence[str]) -> tuple[list[tuple[int, str]], list[str]]:
    listens: list[tuple[int, str]] = []
    args = list(argv)
    while len(args) > 1 and args[0] == "--listen":
        port, _, path = args[1].partition("=")
        listens.append((int(port), path))
        args = args[2:]
    if len(args) < 2 or args[0] != "--":
        raise SystemExit("usage: sandbox_relay.py [--listen PORT=SOCKET]... -- COMMAND...")
    return listens, args[1:]


async def _serve(listeners: list[tuple[socket.socket, str]], child: subprocess.Popen[bytes]) -> int:
    import asyncio

    for listener, path in listeners:
        await asyncio.start_server(_forwarder(path), sock=listener)
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(child.pid)
    except (AttributeError, OSError):  # before Linux 5.3: a thread waits instead
        return await loop.run_in_executor(None, child.wait)
    exited = asyncio.Event()
    loop.add_reader(pidfd, exited.set)
    await exited.wait()
    return child.wait()


def main(argv: Sequence[str]) -> int:
    listens, command = _parse(argv)
    # The ports are taken before the worker (and any handler) runs; connections wait in their
    # backlog until the loop serves them.
    listeners = [(socket.create_server(("127.0.0.1", port)), path) for port, path in listens]
    child = subprocess.Popen(command)
    # The worker owns the protocol streams: their other ends must see end of input when it
    # exits, whatever this process still holds.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    import asyncio  # while the worker starts: its import costs as much as this whole relay

    code = asyncio.run(_serve(listeners, child))
    if code < 0:
        # Die of the same signal, so the sandbox reports the worker's death as it was.
        with contextlib.suppress(OSError, ValueError):  # SIGKILL's cannot be set, nor need be
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
