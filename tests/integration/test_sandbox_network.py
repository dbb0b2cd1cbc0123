"""A handler deployed to a real ``floww serve`` (``FLOWW_SANDBOX=bwrap``) tries the network
as a tenant would: the host's loopback (PostgreSQL's port, the server's own port, a test
server) is out of reach, ``ctx.kv`` works (the floww API through its socket), and HTTP goes
out through the egress proxy, which refuses loopback and the cloud metadata address and lets
an address of ``FLOWW_SANDBOX_EGRESS_ALLOW`` through, over http and over https (``CONNECT``).

No internet is needed: the allowed destination is a stand-in on ``127.0.0.2`` (loopback,
refused unless allowed), and the refused ones are refused before any connection. What this
does not show: a real public destination (and its certificate chain), IPv6.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
import ssl as _ssl
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


def _fetch_tls(url):
    # The stand-in's certificate is its own: what is shown is the tunnel, not the PKI.
    context = _ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = _ssl.CERT_NONE
    with _urequest.urlopen(url, timeout=20, context=context) as answer:
        return [answer.status, answer.read().decode()]


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
        "allowed over https": _fetch_tls(body["allowed_tls"]),
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


def self_signed(directory: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for ``ALLOWED``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ALLOWED)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    pem = directory / "stand-in.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    return context


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[dict[str, http.server.ThreadingHTTPServer]]:
    servers = {
        host: http.server.ThreadingHTTPServer((host, 0), _Hello) for host in ("127.0.0.1", ALLOWED)
    }
    servers["tls"] = http.server.ThreadingHTTPServer((ALLOWED, 0), _Hello)
    servers["tls"].socket = self_signed(tmp_path).wrap_socket(
        servers["tls"].socket, server_side=True
    )
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
    tls_port = stand_ins["tls"].server_address[1]
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
                "allowed_tls": f"https://{ALLOWED}:{tls_port}/",
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
    assert seen["allowed over https"] == [200, f"hello from {ALLOWED}"]
