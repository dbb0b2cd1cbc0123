"""``floww serve --workers N``: N server processes on one listening socket.

The supervisor binds the socket, starts one ``floww serve`` process on it and waits until it
answers (the first start migrates the database and creates the admin account), then starts the
others; the kernel spreads connections among them. Each process is a full server (its own
workers, leases and routing tables) sharing the PostgreSQL database and the home, as replicas
do (docs/performance.md). SIGTERM or Ctrl-C stops them all; when one exits, the others are
stopped and the supervisor exits with its status.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from urllib.error import URLError
from urllib.request import urlopen

from floww.domain.errors import InvalidInput
from floww.settings import Settings

__all__ = ["check_workers", "run_workers"]

_READY_TIMEOUT_S = 120.0


def check_workers(settings: Settings, workers: int) -> None:
    """``InvalidInput`` unless ``workers`` processes can share the database of ``settings``."""
    if workers < 1:
        raise InvalidInput("--workers must be at least 1")
    if workers > 1 and not settings.database_url.startswith("postgres"):
        raise InvalidInput(
            "--workers above 1 needs PostgreSQL (SQLite serves one process): set "
            "--database-url or FLOWW_DATABASE_URL to postgresql://..., or drop --workers"
        )


def run_workers(settings: Settings, workers: int, serve_args: Sequence[str]) -> int:
    """Run ``workers`` processes of ``floww serve SERVE_ARGS`` on one socket; their exit
    status once they stopped."""
    listener = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((settings.host, settings.port))
    listener.listen(2048)
    listener.set_inheritable(True)
    fd = listener.fileno()
    command = [sys.executable, "-m", "floww", "serve", *serve_args, "--fd", str(fd)]
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        children.append(subprocess.Popen(command, pass_fds=(fd,)))
        _wait_ready(settings, children[0])
        for _ in range(workers - 1):
            children.append(subprocess.Popen(command, pass_fds=(fd,)))
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        listener.close()
    codes = [child.returncode for child in children]
    return 0 if stopping else next((code for code in codes if code), 0)


def _wait_ready(settings: Settings, first: subprocess.Popen[bytes]) -> None:
    url = f"http://{_connectable(settings.host)}:{settings.port}/api/config"
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline and first.poll() is None:
        try:
            with urlopen(url, timeout=1):
                return
        except (URLError, OSError):
            time.sleep(0.1)
    if first.poll() is None:
        first.terminate()
    raise InvalidInput(
        "the first server process did not start; see its messages above "
        f"(it exited with {first.wait()})"
    )


def _connectable(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
