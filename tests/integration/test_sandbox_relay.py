"""The relay a sandbox starts first (``sandbox_relay.py``), run here outside any sandbox: it
puts a unix socket on a loopback port before its command runs, hands the command its standard
streams, and exits as the command does."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from floww.adapters.local import sandbox_relay
from tests.integration.serving import free_port

pytestmark = pytest.mark.integration

RELAY = sandbox_relay.__file__


def run_relay(
    command: list[str], listens: Sequence[str] = (), stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, "-I", "-S", RELAY]
    for listen in listens:
        argv += ["--listen", listen]
    return subprocess.run(
        [*argv, "--", *command], input=stdin, capture_output=True, timeout=60, check=False
    )


@pytest.fixture
def greeter(tmp_path: Path) -> Iterator[str]:
    """A unix socket answering each connection with what it read, upper-cased."""
    path = str(tmp_path / "greet.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(1024):
                    data += chunk
                conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    yield path
    server.close()


def test_the_command_reaches_the_socket_on_the_loopback_port(greeter: str) -> None:
    port = free_port()
    client = (
        "import socket, sys\n"
        f"c = socket.create_connection(('127.0.0.1', {port}))\n"
        "c.sendall(sys.stdin.read().encode()); c.shutdown(socket.SHUT_WR)\n"
        "print(c.makefile().read())\n"
    )
    done = run_relay([sys.executable, "-c", client], [f"{port}={greeter}"], b"hello relay")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == "HELLO RELAY"


def test_it_exits_with_the_commands_code_or_dies_of_its_signal() -> None:
    assert run_relay([sys.executable, "-c", "raise SystemExit(3)"]).returncode == 3
    killed = run_relay([sys.executable, "-c", "import os; os.kill(os.getpid(), 15)"])
    assert killed.returncode == -signal.SIGTERM


def test_a_port_leading_to_a_missing_socket_closes_the_connection(tmp_path: Path) -> None:
    port = free_port()
    client = (
        "import socket\n"
        f"c = socket.create_connection(('127.0.0.1', {port}))\n"
        "c.sendall(b'x')\n"
        "try:\n"
        "    print('closed' if c.recv(10) == b'' else 'answered')\n"
        "except ConnectionResetError:\n"
        "    print('closed')\n"
    )
    done = run_relay([sys.executable, "-c", client], [f"{port}={tmp_path / 'missing.sock'}"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == "closed"


def test_a_bad_command_line_says_how_to_call_it() -> None:
    done = run_relay([])
    assert done.returncode != 0 and b"usage: sandbox_relay.py" in done.stderr
