"""Start a real ``floww serve`` on loopback for end-to-end tests, and log in to it the way a
person would: a device code approved through the ``/device`` page."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx

__all__ = [
    "FLOWW",
    "RunningServer",
    "approve_device_login",
    "approve_user_code",
    "free_port",
    "running_server",
]

FLOWW = (sys.executable, "-m", "floww")  # the `floww` command of this environment
SERVE = (*FLOWW, "serve")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.frozen
class RunningServer:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def admin_password(self) -> str:
        return (self.home / "initial-admin-password").read_text().strip()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(
    home: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 30,
    name: str | None = None,
    port: int | None = None,
) -> Iterator[RunningServer]:
    """``floww serve --home HOME`` on a free port; stopped (and reaped) on exit. ``name``
    tells apart the logs of servers sharing one home (replicas); ``port`` is chosen free
    unless given (when a setting must name the server's URL before it starts)."""
    port = port or free_port()
    log = home.parent / f"{name or home.name}-serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*SERVE, "--home", str(home), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    server = RunningServer(f"http://127.0.0.1:{port}", home, process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"floww serve exited with {process.returncode}:\n{server.output()}"
                )
            try:
                if httpx.get(f"{server.url}/api/config", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"floww serve did not answer in {timeout}s:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def approve_user_code(
    server: RunningServer, user_code: str, email: str = "admin@localhost", password: str = ""
) -> None:
    """Approve a device login on the server's ``/device`` page, as a person would."""
    with httpx.Client(base_url=server.url, timeout=10) as http:
        page = http.get("/device", params={"user_code": user_code}).text
        form_token = re.search(r"name=form_token value='([^']+)'", page)
        assert form_token, page
        approved = http.post(
            "/device",
            data={
                "form_token": form_token.group(1),
                "user_code": user_code,
                "email": email,
                "password": password or server.admin_password,
                "decision": "approve",
            },
            headers={"origin": server.url},
        )
        assert approved.status_code == 200, approved.text


def approve_device_login(
    server: RunningServer, email: str = "admin@localhost", password: str | None = None
) -> str:
    """Run the RFC 8628 device flow against the server and approve it on the ``/device`` page;
    returns the access token."""
    with httpx.Client(base_url=server.url, timeout=10) as http:
        started = http.post("/api/auth/device", data={"client_id": "floww-tests"}).json()
        approve_user_code(server, started["user_code"], email, password or "")
        answer = http.post(
            "/api/auth/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": started["device_code"],
                "client_id": "floww-tests",
            },
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])
