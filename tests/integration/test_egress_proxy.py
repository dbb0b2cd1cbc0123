"""The server's side of a sandbox's network on real sockets: the egress proxy and the API relay
behind their unix sockets (``SandboxNetwork``), with stand-in servers on loopback, and the
bound on connections one uid holds through them.

Loopback is refused by default; the allow-list admits ``127.0.0.2`` so a success path runs
without the internet. A handler in a real sandbox goes through them in
tests/integration/test_sandbox_network.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import resource
import select
import shutil
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from floww.adapters.local.egress_proxy import EgressProxy
from floww.adapters.local.egress_rules import Address, EgressRules
from floww.adapters.local.uplink import SandboxNetwork, Uplink
from tests.integration.lifecycle import wait_until

pytestmark = pytest.mark.integration

ALLOWED = "127.0.0.2"
NAMES = {"metadata.example": "169.254.169.254", "allowed.example": ALLOWED}


class StandIn(socketserver.ThreadingTCPServer):
    """A loopback server answering each request with what it received; ``heads`` keeps them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str) -> None:
        self.heads: list[bytes] = []
        super().__init__((host, 0), _Echo)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Echo(socketserver.StreamRequestHandler):
    server: StandIn

    def handle(self) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline()
            if not line:
                return
            head += line
        if head.startswith(b"RAW"):  # a tunnel: echo bytes until the client closes
            self.wfile.write(b"echo:" + head)
            while data := self.request.recv(4096):
                self.request.sendall(data)
            return
        self.server.heads.append(head)
        body = b"stand-in saw " + head.split(b"\r\n")[0]
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (len(body), body)
        )


@pytest.fixture
def stand_ins() -> Iterator[dict[str, StandIn]]:
    servers = {"loopback": StandIn("127.0.0.1"), "allowed": StandIn(ALLOWED)}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers.values():
        server.shutdown()
        server.server_close()


async def resolve(host: str, port: int) -> list[Address]:
    """``NAMES``, else the system's resolver (``localhost`` from /etc/hosts); ``.example``
    names it does not know never reach DNS."""
    if host in NAMES:
        return [ipaddress.ip_address(NAMES[host])]
    if host.endswith(".example"):
        raise OSError(f"no such name: {host}")
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in found]


@pytest.fixture
def uplink(tmp_path: Path, stand_ins: dict[str, StandIn]) -> Iterator[Uplink]:
    rules = EgressRules.parse(f"{ALLOWED}/32", own_addresses=frozenset)
    proxy = EgressProxy(rules, resolve=resolve, connect_timeout=2, head_timeout=2)
    network = SandboxNetwork(("0.0.0.0", stand_ins["loopback"].port), proxy)
    yield network.start(tmp_path / "uplink").of(os.getuid())
    network.close()


def exchange(path: str, data: bytes) -> bytes:
    """Send ``data`` on a new connection to the unix socket ``path``; all it answers (a
    refusal at once may close before the request is sent, or reset after its answer: the
    request was left unread)."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(data)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := conn.recv(65536):
                answer += chunk
    return answer


def status_and_body(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body.decode()


def test_loopback_is_refused_and_nothing_is_sent_there(
    uplink: Uplink, stand_ins: dict[str, StandIn]
) -> None:
    port = stand_ins["loopback"].port
    for target in (f"http://127.0.0.1:{port}/", f"http://localhost:{port}/"):
        answer = exchange(uplink.egress_socket, f"GET {target} HTTP/1.1\r\n\r\n".encode())
        status, body = status_and_body(answer)
        assert status == 403, answer
        assert "a loopback address" in body, body
    status, body = status_and_body(
        exchange(uplink.egress_socket, b"CONNECT 127.0.0.1:5432 HTTP/1.1\r\n\r\n")
    )
    assert status == 403 and "127.0.0.1, a loopback address" in body, body
    assert stand_ins["loopback"].heads == []


def test_a_name_is_judged_by_the_address_it_resolves_to(
    uplink: Uplink, caplog: pytest.LogCaptureFixture
) -> None:
    request = b"GET http://metadata.example/latest/meta-data/ HTTP/1.1\r\n\r\n"
    with caplog.at_level(logging.INFO, logger="floww.adapters.local.egress_proxy"):
        status, body = status_and_body(exchange(uplink.egress_socket, request))
    assert status == 403
    assert "metadata.example resolves to a link-local address" in body
    assert "FLOWW_SANDBOX_EGRESS_ALLOW" in body
    # What an internal name resolves to is not the handler's to see; the server logs it.
    assert "169.254" not in body
    assert "metadata.example: 169.254.169.254" in caplog.text


def test_an_allowed_destination_gets_the_request_in_origin_form(
    uplink: Uplink, stand_ins: dict[str, StandIn]
) -> None:
    port = stand_ins["allowed"].port
    request = (
        f"POST http://allowed.example:{port}/hook?x=1 HTTP/1.1\r\n"
        f"Host: allowed.example:{port}\r\n"
        "Proxy-Authorization: Basic c2VjcmV0\r\n"
        "Proxy-Connection: keep-alive\r\n"
        "Connection: keep-alive, X-Hop\r\n"
        "X-Hop: dropped\r\n"
        "Content-Length: 5\r\n\r\nhello"
    ).encode()
    status, body = status_and_body(exchange(uplink.egress_socket, request))
    assert status == 200, body
    assert body == "stand-in saw POST /hook?x=1 HTTP/1.1"
    (head,) = stand_ins["allowed"].heads
    lines = head.decode().split("\r\n")
    assert f"Host: allowed.example:{port}" in lines and "Connection: close" in lines
    assert not [h for h in lines if h.lower().startswith(("proxy-", "x-hop", "connection: k"))]


def test_connect_tunnels_bytes_both_ways_to_an_allowed_destination(
    uplink: Uplink, stand_ins: dict[str, StandIn]
) -> None:
    port = stand_ins["allowed"].port
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(uplink.egress_socket)
        conn.sendall(f"CONNECT {ALLOWED}:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        established = conn.recv(4096)
        assert established.startswith(b"HTTP/1.1 200 "), established
        conn.sendall(b"RAW\r\n\r\n")
        assert conn.recv(4096) == b"echo:RAW\r\n\r\n"
        conn.sendall(b"ping")
        assert conn.recv(4096) == b"ping"


@pytest.mark.parametrize(
    ("request_bytes", "status", "said"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "absolute http:// URLs"),
        (b"GET https://example.com/ HTTP/1.1\r\n\r\n", 400, "CONNECT host:port for https"),
        (b"CONNECT example.com HTTP/1.1\r\n\r\n", 400, "CONNECT needs host:port"),
        (b"CONNECT example.com:\xb3 HTTP/1.1\r\n\r\n", 400, "CONNECT needs host:port"),
        (b"GET http://example.com:\xb3/ HTTP/1.1\r\n\r\n", 400, "cannot be read"),
        (b"HELLO\r\n\r\n", 400, "not HTTP/1.x"),
        (b"GET http://nowhere.example/ HTTP/1.1\r\n\r\n", 502, "could not be resolved"),
        (b"GET http://" + ALLOWED.encode() + b":1/ HTTP/1.1\r\n\r\n", 502, "could not be reached"),
        (b"GET http://x/ HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431, "too large"),
    ],
)
def test_what_the_proxy_cannot_serve_gets_a_status_and_a_sentence(
    uplink: Uplink, request_bytes: bytes, status: int, said: str
) -> None:
    got, body = status_and_body(exchange(uplink.egress_socket, request_bytes))
    assert got == status and said in body, body
    assert body.startswith("floww egress proxy: ")


def test_the_api_socket_reaches_the_server_and_nothing_else(
    uplink: Uplink, stand_ins: dict[str, StandIn]
) -> None:
    # The server listens on every interface (0.0.0.0): the relay reaches it on loopback.
    answer = exchange(uplink.api_socket, b"GET /api/kv/x HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status_and_body(answer) == (200, "stand-in saw GET /api/kv/x HTTP/1.1")
    assert len(stand_ins["loopback"].heads) == 1
    answer = exchange(uplink.api_socket, b"GET http://127.0.0.2/ HTTP/1.1\r\nHost: a\r\n\r\n")
    assert stand_ins["allowed"].heads == [], "the API socket is no proxy"


def test_one_uid_holds_a_bounded_number_of_connections(
    tmp_path: Path, stand_ins: dict[str, StandIn]
) -> None:
    rules = EgressRules.parse(f"{ALLOWED}/32", own_addresses=frozenset)
    network = SandboxNetwork(("127.0.0.1", 9), EgressProxy(rules), connections_per_uid=2)
    uplink = network.start(tmp_path / "uplink").of(os.getuid())
    port = stand_ins["allowed"].port

    def tunnel() -> socket.socket:
        conn = socket.socket(socket.AF_UNIX)
        conn.settimeout(10)
        conn.connect(uplink.egress_socket)
        conn.sendall(f"CONNECT {ALLOWED}:{port} HTTP/1.1\r\n\r\n".encode())
        return conn

    try:
        held = [tunnel(), tunnel()]
        for conn in held:
            assert conn.recv(4096).startswith(b"HTTP/1.1 200 ")
        status, body = status_and_body(exchange(uplink.api_socket, b"GET / HTTP/1.1\r\n\r\n"))
        assert status == 503 and "hold 2 connections" in body, body
        assert body.startswith("floww sandbox uplink: ")
        # Refused at once: the server holds no connection past the bound while the client,
        # its request sent, keeps its end open.
        with socket.socket(socket.AF_UNIX) as over:
            over.settimeout(10)
            over.connect(uplink.api_socket)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                over.sendall(b"GET / HTTP/1.1\r\n\r\n" + b"x" * 100_000)
            assert over.recv(12) == b"HTTP/1.1 503"
            with contextlib.suppress(ConnectionResetError):
                while over.recv(65536):
                    pass
            assert network.connections() == 2
        held.pop().close()

        def established() -> bool:  # once the closed tunnel's slot is free
            conn = tunnel()
            if conn.recv(4096).startswith(b"HTTP/1.1 200 "):
                held.append(conn)
                return True
            conn.close()
            return False

        assert wait_until(established, 10)
    finally:
        for conn in held:
            conn.close()
        network.close()


def test_the_sockets_are_connectable_by_any_uid_inside_an_owner_only_folder(
    uplink: Uplink,
) -> None:
    folder = Path(uplink.api_socket).parent
    assert folder.name == f"u{os.getuid()}", "each uid has sockets of its own"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert folder.parent.stat().st_mode & 0o777 == 0o700
    for path in (uplink.api_socket, uplink.egress_socket):
        assert Path(path).stat().st_mode & 0o777 == 0o666


def test_all_uids_together_hold_what_the_open_file_budget_allows(
    tmp_path: Path, stand_ins: dict[str, StandIn]
) -> None:
    # 7 open files: two API connections (3 each) fit, a tunnel (2) more does not.
    network = SandboxNetwork(("127.0.0.1", stand_ins["loopback"].port), fd_budget=7)
    uplink = network.start(tmp_path / "uplink").of(os.getuid())
    held = []
    try:
        for _ in range(2):
            conn = socket.socket(socket.AF_UNIX)
            conn.settimeout(10)
            conn.connect(uplink.api_socket)
            held.append(conn)
        assert wait_until(lambda: network.connections() == 2, 10)
        status, body = status_and_body(
            exchange(uplink.egress_socket, b"CONNECT x:1 HTTP/1.1\r\n\r\n")
        )
        assert status == 503 and "as many sandbox connections as it can" in body, body
        held.pop().close()
        assert wait_until(lambda: network.connections() == 1, 10)
        status, body = status_and_body(exchange(uplink.egress_socket, b"HELLO\r\n\r\n"))
        assert status == 400, body
    finally:
        for conn in held:
            conn.close()
        network.close()


def test_starting_raises_the_soft_open_file_limit_to_the_hard_one(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 512:
        pytest.skip(f"the hard open-file limit here is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    network = SandboxNetwork(("127.0.0.1", 9))
    try:
        network.start(tmp_path / "uplink")
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
        assert network.fd_budget == hard // 2
    finally:
        network.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


FLOOD_UID, OTHER_UID = 300_001, 300_002


def _as_uid(uid: int, work: Callable[[], None]) -> int:
    """Run ``work`` in a child process as ``uid``; the child's pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgid(uid)
            os.setuid(uid)
            work()
            code = 0
        finally:
            os._exit(code)
    return pid


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to connect as other uids")
def test_one_uids_flood_leaves_another_uids_connections_working(
    stand_ins: dict[str, StandIn],
) -> None:
    rules = EgressRules.parse(f"{ALLOWED}/32", own_addresses=frozenset)
    network = SandboxNetwork(
        ("127.0.0.1", 9), EgressProxy(rules, resolve=resolve), connections_per_uid=16
    )
    # The uids' children reach their sockets by path: every folder on it searchable.
    folder = Path(tempfile.mkdtemp(prefix="floww-flood-"))
    os.chmod(folder, 0o755)
    uplinks = network.start(folder / "uplink")
    os.chmod(folder / "uplink", 0o755)
    flooded, other = uplinks.of(FLOOD_UID), uplinks.of(OTHER_UID)
    for uplink in (flooded, other):
        os.chmod(Path(uplink.api_socket).parent, 0o755)
    port = stand_ins["allowed"].port

    def flood() -> None:
        # Connections that never send a head, past the cap, as fast as they go, until the
        # test is done (20000 at most).
        held = []
        for n in range(20_000):
            conn = socket.socket(socket.AF_UNIX)
            conn.setblocking(False)
            try:
                conn.connect(flooded.egress_socket)
                held.append(conn)
            except OSError:
                conn.close()
            if n == 100:
                os.write(ready_w, b"x")
            if len(held) > 500:
                held.pop(0).close()
            if n % 100 == 0 and select.select([done_r], [], [], 0)[0]:
                break

    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    flooder = _as_uid(FLOOD_UID, flood)
    os.close(ready_w)  # so a flooder that died is read as end of file, not waited for
    os.close(done_r)
    answers: list[bytes] = []
    try:
        assert os.read(ready_r, 1) == b"x", "the flooding child did not start"
        for _ in range(20):
            request = f"GET http://{ALLOWED}:{port}/ok HTTP/1.1\r\n\r\n".encode()
            r, w = os.pipe()

            def victim(request: bytes = request, w: int = w) -> None:
                try:
                    got = exchange(other.egress_socket, request)
                except OSError as exc:
                    got = repr(exc).encode()
                os.write(w, got[:300])

            pid = _as_uid(OTHER_UID, victim)
            os.close(w)
            with os.fdopen(r, "rb") as out:
                answers.append(out.read())
            os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(BrokenPipeError):
            os.write(done_w, b"x")
        os.waitpid(flooder, 0)
        for fd in (ready_r, done_w):
            os.close(fd)
        network.close()
        shutil.rmtree(folder)
    ok = [a.startswith(b"HTTP/1.1 200 ") and a.endswith(b"saw GET /ok HTTP/1.1") for a in answers]
    assert all(ok), answers


def test_a_lookup_is_bounded_in_time_and_in_lookups_per_uid(
    tmp_path: Path, stand_ins: dict[str, StandIn]
) -> None:
    asked: list[tuple[int, str]] = []

    async def slow_or_known(host: str, port: int) -> list[Address]:
        asked.append((len(asked), host))
        if host.startswith("slow"):
            await asyncio.sleep(60)  # a name server that never answers
        return await resolve(host, port)

    rules = EgressRules.parse(f"{ALLOWED}/32", own_addresses=frozenset)
    proxy = EgressProxy(rules, resolve=slow_or_known, dns_timeout=1, lookups_per_uid=2)
    port = stand_ins["allowed"].port

    async def scenario() -> list[bytes]:
        servers = [
            await asyncio.start_unix_server(
                lambda r, w, uid=uid: proxy.serve(r, w, uid), str(tmp_path / f"{uid}.sock")
            )
            for uid in (1, 2)
        ]

        async def ask(uid: int, target: str) -> bytes:
            reader, writer = await asyncio.open_unix_connection(str(tmp_path / f"{uid}.sock"))
            writer.write(f"GET http://{target}/ HTTP/1.1\r\n\r\n".encode())
            got = await reader.read()
            writer.close()
            return got

        slow = [asyncio.create_task(ask(1, f"slow{n}.example")) for n in (1, 2)]
        while len(asked) < 2:
            await asyncio.sleep(0.05)
        # uid 1's two lookups hold its slots: its third waits for one, in vain; uid 2's goes.
        third = asyncio.create_task(ask(1, f"allowed.example:{port}"))
        other = await ask(2, f"allowed.example:{port}")
        answers = [*await asyncio.gather(*slow), await third, other]
        for server in servers:
            server.close()
        return answers

    try:
        *slow, third, other = asyncio.run(scenario())
    finally:
        proxy.close()
    for answer in (*slow, third):
        status, body = status_and_body(answer)
        assert status == 504 and "did not resolve within 1 s" in body, body
    assert status_and_body(other)[0] == 200
    assert [host for _, host in asked] == ["slow1.example", "slow2.example", "allowed.example"]


def test_the_systems_resolver_runs_on_the_proxys_threads() -> None:
    proxy = EgressProxy(EgressRules(own_addresses=frozenset), dns_timeout=10)

    async def look() -> tuple[list[Address], list[Address]]:
        by_name = await proxy._lookup("localhost", 80, 1)
        threads = {t.name for t in threading.enumerate()}
        assert any(name.startswith("floww-egress-dns") for name in threads), threads
        return by_name, await proxy._lookup("::1", 80, 1)  # an address is not looked up

    try:
        by_name, literal = asyncio.run(look())
    finally:
        proxy.close()
    assert ipaddress.ip_address("127.0.0.1") in by_name or ipaddress.ip_address("::1") in by_name
    assert literal == [ipaddress.ip_address("::1")]


def test_a_folder_too_long_for_the_uids_sockets_is_refused_at_start(tmp_path: Path) -> None:
    network = SandboxNetwork(("127.0.0.1", 9))
    deep = tmp_path / ("d" * 100)
    with pytest.raises(OSError, match="too long a path for unix sockets") as raised:
        network.start(deep)
    assert raised.value.errno == errno.ENAMETOOLONG
    assert not deep.exists()
    network.close()
