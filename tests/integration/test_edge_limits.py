"""Limits at the edge, against a real ``floww serve`` on loopback: oversized request heads get
431 and leave nothing stored, slow clients are cut off, a device-login flood from one address
gets 429 while another address still signs in, password guessing is delayed, and the
retention sweeper keeps a workflow's history bounded. Webhook callers' credentials are not
stored."""

from __future__ import annotations

import contextlib
import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.serving import RunningServer, approve_device_login, running_server

pytestmark = pytest.mark.integration

RETENTION_COUNT = 3
ENV = {
    "FLOWW_HEADER_TIMEOUT_S": "1.5",
    "FLOWW_BODY_TIMEOUT_S": "1.5",
    "FLOWW_DEVICE_STARTS_PER_MINUTE": "5",
    "FLOWW_EXECUTION_RETENTION_COUNT": str(RETENTION_COUNT),
    "FLOWW_RETENTION_INTERVAL_S": "0.3",
    "FLOWW_DEV_LEASE_S": "0.5",
}
# How long a test waits for the server before it calls the behaviour missing: far above the
# configured limits, far below a test's budget.
PATIENCE_S = 20.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("floww-home"), env=ENV) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: RunningServer) -> Iterator[httpx.Client]:
    token = approve_device_login(server)
    with httpx.Client(
        base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def workflow(api: httpx.Client) -> str:
    return _new_workflow(api)


def _new_workflow(api: httpx.Client) -> str:
    """A fresh workflow with a dev webhook ``POST /hook`` whose session is gone (its lease,
    half a second here, lapsed unrenewed), so each call is stored as a failed execution and
    answered 503 at once."""
    (namespace,) = api.get("/api/namespaces").json()["items"]
    created = api.post(
        f"/api/namespaces/{namespace['id']}/workflows", json={"name": f"wf-{uuid.uuid4().hex}"}
    )
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["id"]
    spec = {
        "provider": {"type": "builtin", "alias": "default"},
        "trigger_type": "webhook",
        "input": {"path": "/hook", "methods": ["POST"]},
    }
    synced = api.put(f"/api/workflows/{workflow_id}/dev-triggers", json={"triggers": [spec]})
    assert synced.status_code == 200, synced.text
    time.sleep(0.6)  # the session's lease lapses: its triggers stay, nobody answers them
    return workflow_id


def _executions(api: httpx.Client, workflow_id: str) -> list[dict[str, Any]]:
    listed = api.get(f"/api/workflows/{workflow_id}/executions", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def _port(server: RunningServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _raw(server: RunningServer, head: bytes) -> bytes:
    """Send ``head`` on a fresh connection; what the server answered before closing."""
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=PATIENCE_S) as sock:
        with contextlib.suppress(OSError):  # the server may close before all is sent
            sock.sendall(head)
        return _read_until_closed(sock)


def _read_until_closed(sock: socket.socket) -> bytes:
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_oversized_heads_get_431_and_store_nothing(
    server: RunningServer, api: httpx.Client, workflow: str
) -> None:
    request_line = f"POST /webhook/{workflow}/hook HTTP/1.1\r\nhost: x\r\n".encode()
    huge = request_line + b"x-huge: " + b"a" * (64 * 1024 * 1024) + b"\r\n\r\n"
    many = request_line + b"".join(b"x-n%d: v\r\n" % n for n in range(20_000)) + b"\r\n"
    for head in (huge, many):
        answer = _raw(server, head)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b"HeadersTooLarge" in answer
    assert _executions(api, workflow) == []

    # the same route with an ordinary head stores its execution (so the check above can fail)
    normal = httpx.post(f"{server.url}/webhook/{workflow}/hook", json={"n": 1})
    assert normal.status_code == 503, normal.text
    assert len(_executions(api, workflow)) == 1
    assert server.process.poll() is None


def test_webhook_callers_credentials_are_not_stored(
    server: RunningServer, api: httpx.Client, workflow: str
) -> None:
    answer = httpx.post(
        f"{server.url}/webhook/{workflow}/hook",
        json={"n": 1},
        headers={
            "authorization": "Bearer caller-secret",
            "proxy-authorization": "Basic cHJveHk6c2VjcmV0",
            "cookie": "session=caller-secret",
            "x-delivery": "d-1",
        },
    )
    execution_id = answer.json()["execution_id"]
    stored = api.get(f"/api/executions/{execution_id}").json()
    headers = stored["event"]["headers"]
    assert headers["x-delivery"] == "d-1"
    assert not {"authorization", "proxy-authorization", "cookie"} & set(headers)
    assert "caller-secret" not in str(stored)


def test_a_slow_head_is_cut_off(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=PATIENCE_S) as sock:
        sock.sendall(b"POST /api/config HTTP/1.1\r\nhost: x\r\nx-slow: ")
        sent, closed = 0, False
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            try:
                sock.sendall(b"a")
            except OSError:
                closed = True
                break
            sent += 1
            time.sleep(0.25)
            sock.setblocking(False)
            try:
                if sock.recv(65536, socket.MSG_PEEK):
                    closed = True
                    break
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
        assert closed, f"the server kept a slow head open for {PATIENCE_S}s ({sent} bytes)"
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_body_that_never_completes_is_cut_off(server: RunningServer, workflow: str) -> None:
    head = (
        f"POST /webhook/{workflow}/hook HTTP/1.1\r\nhost: x\r\n"
        "content-type: application/json\r\ncontent-length: 1000\r\n\r\n"
    ).encode()
    answer = _raw(server, head + b'{"n": ')
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_slow_but_steady_body_is_read_to_the_end(server: RunningServer, workflow: str) -> None:
    """The body limit is a pause between chunks, not a total: 6 chunks 0.5 s apart take
    twice the 1.5 s limit and still arrive."""
    body = b'{"n": 1, "padding": "abcdefghij"}'
    chunks = [body[i : i + 6] for i in range(0, len(body), 6)]
    head = (
        f"POST /webhook/{workflow}/hook HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=PATIENCE_S) as sock:
        sock.sendall(head)
        for chunk in chunks:
            time.sleep(0.5)
            sock.sendall(chunk)
        answer = _read_until_closed(sock)
    assert len(chunks) * 0.5 > 1.5
    assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]  # the route ran: no dev session


def test_a_silent_connection_is_closed(server: RunningServer) -> None:
    assert _raw(server, b"").startswith(b"HTTP/1.1 408 ")


def _client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def test_a_device_login_flood_is_refused_while_others_sign_in(server: RunningServer) -> None:
    with _client_from("127.0.0.2") as flooder:
        answers = [flooder.post(f"{server.url}/api/auth/device") for _ in range(12)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}, statuses
    assert int(answers[-1].headers["retry-after"]) >= 1
    # another address still logs in, through the same device flow
    assert approve_device_login(server)


def test_a_forwarding_header_does_not_change_who_the_client_is(tmp_path: Path) -> None:
    """With no client-IP header configured, X-Forwarded-For is the caller's own words, even
    from the loopback address a same-host proxy would use: a flood that names a new address
    each time is still one client. (Its own server: it spends 127.0.0.1's starts.)"""
    with running_server(tmp_path / "home", env=ENV) as own:
        answers = [
            httpx.post(f"{own.url}/api/auth/device", headers={"x-forwarded-for": f"198.51.100.{n}"})
            for n in range(12)
        ]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}, statuses


def _sign_in_page(client: httpx.Client, server: RunningServer, password: str) -> httpx.Response:
    page = client.get(f"{server.url}/device").text
    token = re.search(r"name=form_token value='([^']+)'", page)
    assert token is not None
    return client.post(
        f"{server.url}/device",
        data={
            "form_token": token.group(1),
            "user_code": "BCDF-GHJK",
            "email": "mallory@example.com",
            "password": password,
        },
        headers={"origin": server.url},
    )


def test_password_guessing_is_delayed(server: RunningServer) -> None:
    with _client_from("127.0.0.3") as guesser:
        statuses = [_sign_in_page(guesser, server, f"guess-{n}").status_code for n in range(6)]
        assert statuses == [401] * 6
        delayed = _sign_in_page(guesser, server, "guess-7")
    assert delayed.status_code == 429
    assert int(delayed.headers["retry-after"]) >= 1


def test_retention_keeps_each_workflows_history_bounded(
    server: RunningServer, api: httpx.Client, workflow: str
) -> None:
    sent = [
        httpx.post(f"{server.url}/webhook/{workflow}/hook", json={"n": n}).json()["execution_id"]
        for n in range(RETENTION_COUNT + 4)
    ]
    deadline = time.monotonic() + PATIENCE_S
    while len(kept := _executions(api, workflow)) > RETENTION_COUNT:
        assert time.monotonic() < deadline, f"{len(kept)} executions kept"
        time.sleep(0.2)
    assert {e["id"] for e in kept} == set(sent[-RETENTION_COUNT:])


def test_a_restarted_server_applies_the_retention_it_is_started_with(tmp_path: Path) -> None:
    """History kept under a roomy policy is trimmed by the sweep a restarted server runs at
    start under a tighter one."""
    home = tmp_path / "home"
    with running_server(home, env={**ENV, "FLOWW_EXECUTION_RETENTION_COUNT": "100"}) as first:
        token = approve_device_login(first)
        with httpx.Client(
            base_url=first.url, headers={"authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            workflow_id = _new_workflow(client)
            sent = [
                httpx.post(f"{first.url}/webhook/{workflow_id}/hook", json={"n": n}).json()[
                    "execution_id"
                ]
                for n in range(6)
            ]
            assert len(_executions(client, workflow_id)) == 6
    tighter = {**ENV, "FLOWW_EXECUTION_RETENTION_COUNT": "2"}
    with (
        running_server(home, env=tighter) as second,
        httpx.Client(
            base_url=second.url, headers={"authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        deadline = time.monotonic() + PATIENCE_S
        while len(kept := _executions(client, workflow_id)) > 2:
            assert time.monotonic() < deadline, f"{len(kept)} executions kept"
            time.sleep(0.2)
    assert [e["id"] for e in kept] == sent[:-3:-1]
