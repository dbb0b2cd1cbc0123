"""A handler deployed to a real ``floww serve`` (``FLOWW_SANDBOX=bwrap``) tries the network
as a tenant would: the host's loopback (PostgreSQL's port, the server's own port, a test
server) is out of reach, ``ctx.kv`` works (the floww API through its socket), and HTTP goes
out through the egress proxy, which refuses loopback and the cloud metadata address and lets
an address of ``FLOWW_SANDBOX_EGRESS_ALLOW`` through.

No internet is needed: the allowed destination is a stand-in on ``127.0.0.2`` (loopback,
refused unless allowed), and the refused ones are refused before any connection. What this
does not show: a real public destination, https through ``CONNECT`` from a handler (the
proxy's own test tunnels bytes), IPv6.
"""

from __future__ import annotations

import http.server
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from floww.adapters.local.sandbox import BwrapSandbox, probe_bwrap
from tests.integration.lifecycle import client_env, deploy, make_project, server_env, webhook_url
from tests.integration.postgres import skip_or_fail
from tests.integration.serving import running_server

pytestmark = pytest.mark.integration

ALLOWED = "127.0.0.2"

NET = """

import http.client as _client
import os as _os
import socket as _socket
import urllib.error as _uerror
import urllib.parse as _uparse
import urllib.request as _urequest


def _connect(port):
    try:
        _socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError as exc:
        return "refused: " + type(exc).__name__
    return "connected"


def _fetch(url):
    try:
        with _urequest.urlopen(url, timeout=20) as answer:
            return [answer.status, answer.read().decode()]
    except _uerror.HTTPError as exc:
        return [exc.code, exc.read().decode()]
    except Exception as exc:
        return [0, type(exc).__name__ + ": " + str(exc)]


def _through_proxy(url):
    # What any client told to use HTTP_PROXY sends it, loopback destination or not.
    proxy = _uparse.urlsplit(_os.environ["HTTP_PROXY"])
    conn = _client.HTTPConnection(proxy.hostname, proxy.port, timeout=20)
    conn.request("GET", url)
    answer = conn.getresponse()
    return [answer.status, answer.read().decode()]


@builtin.webhook("/net", methods=["POST"])
def net(ctx: Context, event: WebhookEvent) -> dict:
    body = event.body
    ctx.kv.set("net", {"written": "inside"})
    # Loopback is direct (NO_PROXY): the sandbox's own. Through the proxy, it would be the
    # host's loopback, which the proxy refuses.
    return {
        "tcp": {str(port): _connect(port) for port in body["ports"]},
        "kv": ctx.kv.get("net"),
        "loopback": _through_proxy(body["loopback"]),
        "metadata": _fetch("http://169.254.169.254/latest/meta-data/"),
        "allowed": _fetch(body["allowed"]),
    }
"""


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from {self.request.getsockname()[0]}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stand_ins() -> Iterator[dict[str, http.server.ThreadingHTTPServer]]:
    servers = {
        host: http.server.ThreadingHTTPServer((host, 0), _Hello) for host in ("127.0.0.1", ALLOWED)
    }
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers.values():
        server.shutdown()
        server.server_close()


def reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def test_a_handler_reaches_the_api_and_the_internet_only(
    tmp_path: Path, stand_ins: dict[str, http.server.ThreadingHTTPServer]
) -> None:
    problem = probe_bwrap(BwrapSandbox.for_python(sys.executable))
    if problem is not None:
        skip_or_fail(f"workers cannot be sandboxed here: {problem}")
    home = tmp_path / "home"
    home.mkdir()
    env = server_env(
        sandbox="bwrap", response_deadline_s="30", sandbox_egress_allow=f"{ALLOWED}/32"
    )
    loopback_port = stand_ins["127.0.0.1"].server_address[1]
    allowed_port = stand_ins[ALLOWED].server_address[1]
    with running_server(home, env=env) as server:
        said = server.output()
        assert "each in a network of its own" in said and f"{ALLOWED}/32" in said, said
        cli = client_env(server, tmp_path)
        deployed = deploy(cli, make_project(tmp_path, "net", cli, NET))
        server_port = int(server.url.rsplit(":", 1)[1])
        ports = [5432, server_port, loopback_port]
        outside = {port: reachable(port) for port in ports}
        answer = httpx.post(
            webhook_url(deployed, "/net"),
            json={
                "ports": ports,
                "loopback": f"http://127.0.0.1:{loopback_port}/",
                "allowed": f"http://{ALLOWED}:{allowed_port}/",
            },
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        seen = answer.json()
    # Each port answers from here (PostgreSQL when it runs on this machine) and never there.
    assert outside[server_port] and outside[loopback_port]
    assert seen["tcp"] == {str(p): "refused: ConnectionRefusedError" for p in ports}, seen
    assert seen["kv"] == {"written": "inside"}
    status, body = seen["loopback"]
    assert status == 403 and "127.0.0.1, a loopback address" in body, seen["loopback"]
    status, body = seen["metadata"]
    assert status == 403 and "link-local" in body, seen["metadata"]
    assert seen["allowed"] == [200, f"hello from {ALLOWED}"], seen["allowed"]
