"""The server's own calls to provider APIs (a tenant chooses their ``api_url``) reach only
what the egress rules accept, on real sockets: loopback stand-ins that see nothing when the
call is refused, and that get the request, with the host as named in ``Host`` and in TLS's
server name, when the allow-list admits them."""

from __future__ import annotations

import http.server
import ipaddress
import ssl
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

from floww.adapters.local.egress_rules import Address, EgressRules
from floww.adapters.provider_hooks import RestProviderHooks
from floww.adapters.provider_hooks.egress import EgressRefused, EgressTransport
from floww.domain.model import ProviderRef
from floww.domain.provider_hooks import HookTarget

pytestmark = pytest.mark.integration

ALLOWED = "127.0.0.2"
NAMES = {"api.example": [ALLOWED], "internal.example": ["127.0.0.1"]}
URL = "https://floww.example/webhook/wf_1/github/default"


class StandIn(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, context: ssl.SSLContext | None = None) -> None:
        self.seen: list[tuple[str, str]] = []
        super().__init__((host, 0), _Handler)
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(http.server.BaseHTTPRequestHandler):
    server: StandIn

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host", "")))
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serving() -> Iterator[list[StandIn]]:
    started: list[StandIn] = []
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def serve(started: list[StandIn], server: StandIn) -> StandIn:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started.append(server)
    return server


def resolve(host: str, port: int) -> list[Address]:
    return [ipaddress.ip_address(a) for a in NAMES.get(host, [host])]


def test_by_default_the_server_calls_no_loopback_nor_metadata_api(
    serving: list[StandIn],
) -> None:
    stand_in = serve(serving, StandIn("127.0.0.1"))
    hooks = RestProviderHooks(timeout_s=2)
    target = HookTarget(ProviderRef("github"), "acme/api", URL, ("push",))
    for api, kind in (
        (f"http://127.0.0.1:{stand_in.port}", "a loopback address"),
        (f"http://localhost:{stand_in.port}", "a loopback address"),
        ("http://169.254.169.254/latest", "a link-local address"),
        (f"http://[::ffff:127.0.0.1]:{stand_in.port}", "a loopback address"),
    ):
        outcome = hooks.apply(target, {"token": "t", "webhook_secret": "s", "api_url": api})
        assert outcome.failed and "GitHub's API is out of bounds" in outcome.message, outcome
        assert kind in outcome.message and "FLOWW_SANDBOX_EGRESS_ALLOW" in outcome.message
        assert "provider APIs" in outcome.message
    assert stand_in.seen == []


def test_a_name_is_called_at_an_accepted_address_with_its_own_host_header(
    serving: list[StandIn],
) -> None:
    stand_in = serve(serving, StandIn(ALLOWED))
    rules = EgressRules.parse(f"{ALLOWED}/32", own_addresses=frozenset)
    with httpx.Client(transport=EgressTransport(rules, resolve=resolve)) as client:
        answer = client.get(f"http://api.example:{stand_in.port}/repos")
        assert answer.status_code == 200
        with pytest.raises(EgressRefused, match=r"internal\.example resolves to a loopback"):
            client.get(f"http://internal.example:{stand_in.port}/")
    assert stand_in.seen == [("/repos", f"api.example:{stand_in.port}")]


def test_https_checks_the_certificate_of_the_name_not_of_the_address(
    serving: list[StandIn], tmp_path: Path
) -> None:
    server_context, client_context = certificate_for("api.example", tmp_path)
    stand_in = serve(serving, StandIn(ALLOWED, server_context))
    rules = EgressRules.parse(f"{ALLOWED}/32", own_addresses=frozenset)
    inner = httpx.HTTPTransport(verify=client_context)
    with httpx.Client(transport=EgressTransport(rules, inner=inner, resolve=resolve)) as client:
        assert client.get(f"https://api.example:{stand_in.port}/tls").status_code == 200
    assert stand_in.seen == [("/tls", f"api.example:{stand_in.port}")]
    # The same certificate does not pass for the address itself.
    inner = httpx.HTTPTransport(verify=client_context)
    transport = EgressTransport(rules, inner=inner, resolve=resolve)
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(f"https://{ALLOWED}:{stand_in.port}/tls")


def certificate_for(name: str, directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh self-signed certificate for ``name``, and a client
    context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    pem = directory / "stand-in.pem"
    pem.write_bytes(
        cert_pem
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pem)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


def test_a_name_that_does_not_resolve_in_time_is_a_connect_timeout() -> None:
    release = threading.Event()

    def never(host: str, port: int) -> list[Address]:  # a name server that does not answer
        release.wait(30)
        return []

    rules = EgressRules(own_addresses=frozenset)
    try:
        with (
            httpx.Client(transport=EgressTransport(rules, resolve=never), timeout=0.5) as client,
            pytest.raises(
                httpx.ConnectTimeout, match=r"slow\.example did not resolve within 0\.5 s"
            ),
        ):
            client.get("http://slow.example/")
    finally:
        release.set()
