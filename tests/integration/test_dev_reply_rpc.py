"""A dev session answering events over its own realtime connection (the ``dev_reply`` RPC), on a
floww server (memory profile) served by uvicorn on loopback: through its embedded hub, and
through the embedded hub playing Centrifugo with floww's RPC proxy. The HTTP reply stays for a
Centrifugo without the RPC proxy, and another tenant's connection cannot answer an event."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import httpx
import pytest

from floww.adapters.http_client.centrifuge_subscription import CentrifugeSubscription
from floww.adapters.http_client.client import ApiClient
from floww.adapters.http_client.platform import HttpPlatform
from floww.bootstrap import Server, build_server
from floww.domain.errors import InvalidInput, NotFound
from floww.domain.model import InvocationResult
from floww.domain.usecases.replies import REACH_TTL_S
from floww.ports.realtime import DEV_REPLY_RPC, workflow_channel
from floww.sdk import wire
from floww.settings import Settings
from tests.centrifugo_standin import running_standin
from tests.integration.serving import free_port
from tests.integration.test_centrifugo_proxy import Tenant, tenant_with_workflow
from tests.integration.test_realtime_hub import serving
from tests.unit.entrypoints.http.conftest import hello_specs

pytestmark = pytest.mark.integration

API_KEY = "rpc-test-api-key"


@attrs.frozen
class World:
    server: Server
    url: str
    realtime_url: str
    a: Tenant
    b: Tenant


def _tenant(server: Server, url: str, email: str) -> Tenant:
    """A tenant whose workflow has examples/hello's triggers as its dev triggers."""
    tenant = tenant_with_workflow(server, url, email)
    synced = httpx.put(
        f"{url}/api/workflows/{tenant.workflow_id}/dev-triggers",
        json={"triggers": hello_specs()},
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    assert synced.status_code == 200, synced.text
    return tenant


@pytest.fixture(scope="module", params=["embedded", "centrifugo"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    port, standin_port = free_port(), free_port()
    env = {
        "FLOWW_HOME": str(tmp_path_factory.mktemp("home")),
        "FLOWW_PROFILE": "memory",
        "FLOWW_PORT": str(port),
    }
    if request.param == "centrifugo":
        env |= {
            "FLOWW_REALTIME": "centrifugo",
            "FLOWW_CENTRIFUGO_API_URL": f"http://127.0.0.1:{standin_port}",
            "FLOWW_CENTRIFUGO_API_KEY": API_KEY,
            "FLOWW_CENTRIFUGO_WS_URL": f"ws://127.0.0.1:{standin_port}/connection/websocket",
        }
    settings = Settings.load(env)
    server = build_server(settings)
    try:
        with serving(server.app, port):
            url = settings.base_url
            config = httpx.get(f"{url}/api/config").json()
            assert config["realtime_rpc"] == [DEV_REPLY_RPC]
            a, b = _tenant(server, url, "a@example.com"), _tenant(server, url, "b@example.com")
            if request.param == "centrifugo":
                with running_standin(url, api_key=API_KEY, port=standin_port):
                    yield World(server, url, config["realtime_url"], a, b)
            else:
                yield World(server, url, config["realtime_url"], a, b)
    finally:
        server.close()


def _platform(world: World, tenant: Tenant, requests: list[str]) -> HttpPlatform:
    def record(request: httpx.Request) -> None:
        requests.append(request.url.path)

    http = httpx.Client(timeout=10, event_hooks={"request": [record]})
    return HttpPlatform(ApiClient(world.url, http=http, token=tenant.token))


def _call_webhook(world: World, tenant: Tenant, name: str) -> Callable[[], httpx.Response]:
    """Sends the webhook on a thread; the returned function waits for its answer."""
    answers: list[httpx.Response] = []
    url = f"{world.url}/webhook/{tenant.workflow_id}/hello/{name}"
    caller = threading.Thread(target=lambda: answers.append(httpx.post(url, timeout=20)))
    caller.start()

    def answer() -> httpx.Response:
        caller.join(20)
        return answers[0]

    return answer


def _result(message: str) -> InvocationResult:
    return InvocationResult(ok=True, result={"message": message})


def test_the_dev_session_answers_over_its_realtime_connection(world: World) -> None:
    requests: list[str] = []
    platform = _platform(world, world.a, requests)
    subscription = platform.subscribe(world.a.workflow_id)
    try:
        for name in ("ada", "grace"):  # the second reply reuses the connection's reach
            answer = _call_webhook(world, world.a, name)
            event = subscription.get(timeout=10)
            assert event is not None and event["type"] == "event"
            platform.reply(
                world.a.workflow_id, event["reply_to"], event["token"], _result(f"rpc {name}")
            )
            got = answer()
            assert (got.status_code, got.json()) == (200, {"message": f"rpc {name}"})
    finally:
        subscription.close()
    assert not [path for path in requests if path.startswith("/api/dev/replies")]


def test_another_tenants_connection_cannot_answer_an_event(world: World) -> None:
    owner = CentrifugeSubscription(
        world.realtime_url, world.a.token, workflow_channel(world.a.workflow_id)
    )
    stranger = CentrifugeSubscription(
        world.realtime_url, world.b.token, workflow_channel(world.b.workflow_id)
    )
    try:
        answer = _call_webhook(world, world.a, "ada")
        event = owner.get(timeout=10)
        assert event is not None
        # the stranger holds the event's own token (leaked), and still may not answer it
        forged = {
            "execution_id": event["reply_to"],
            "token": event["token"],
            "result": wire.result_to_wire(_result("forged")),
        }
        with pytest.raises(NotFound):
            stranger.call(DEV_REPLY_RPC, forged)
        with pytest.raises(InvalidInput):
            owner.call(DEV_REPLY_RPC, {**forged, "result": {"no": "ok field"}})
        real = {**forged, "result": wire.result_to_wire(_result("owner"))}
        assert owner.call(DEV_REPLY_RPC, real) == {}
        got = answer()
        assert (got.status_code, got.json()) == (200, {"message": "owner"})
        with pytest.raises(NotFound):  # nobody waits any more
            owner.call(DEV_REPLY_RPC, real)
        with pytest.raises(NotFound):
            owner.call("no_such_method", {})
    finally:
        owner.close()
        stranger.close()


def test_the_rpc_proxy_checks_the_token_against_the_connections_user(world: World) -> None:
    if world.realtime_url.startswith(world.url.replace("http", "ws")):
        pytest.skip("the RPC proxy endpoint is served with FLOWW_REALTIME=centrifugo")
    request = {
        "client": "c1",
        "transport": "websocket",
        "protocol": "json",
        "encoding": "json",
        "user": world.a.user_id,
        "method": DEV_REPLY_RPC,
        "data": {"execution_id": "ex_1", "token": "t", "result": {"ok": True}},
    }

    def proxy(body: Any, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{world.url}/centrifugo/rpc", json=body, headers=headers, timeout=10)

    assert proxy(request, world.b.token).json() == {
        "error": {"code": 403, "message": "permission denied"}
    }
    # refused, not disconnected: the CLI answers over HTTP and keeps its connection
    assert proxy(request, None).json() == {"error": {"code": 1401, "message": "unauthorized"}}
    refused = proxy(request, world.a.token).json()  # a token of no event: not A's to answer
    assert refused["error"]["code"] == 404
    for bad in ({**request, "method": 5}, {"client": "c1"}, []):
        answer = proxy(bad, world.a.token)
        assert answer.status_code == 400 and "proxy request" in answer.json()["error"]["message"]
    nested = httpx.post(
        f"{world.url}/centrifugo/rpc",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={"Authorization": f"Bearer {world.a.token}"},
        timeout=10,
    )
    assert nested.status_code == 400, nested.text
    huge = httpx.post(
        f"{world.url}/centrifugo/rpc",
        content=b" " * (3 * 1024 * 1024),
        headers={"Authorization": f"Bearer {world.a.token}"},
        timeout=10,
    )
    assert huge.status_code == 413, huge.text


def test_without_the_rpc_proxy_the_reply_goes_over_http(world: World) -> None:
    if world.realtime_url.startswith(world.url.replace("http", "ws")):
        pytest.skip("the embedded hub always offers the RPC")
    # The session connects to a second Centrifugo node configured without floww's RPC proxy
    # (it answers RPCs with 108); events reach the first node only, so a listener there hears
    # them for the test.
    listener = CentrifugeSubscription(
        world.realtime_url, world.a.token, workflow_channel(world.a.workflow_id)
    )
    requests: list[str] = []
    with running_standin(world.url, api_key=API_KEY, rpc_proxy=False) as bare:

        def on_bare_node(_url: str, token: str, channel: str) -> CentrifugeSubscription:
            return CentrifugeSubscription(bare.ws_url, token, channel)

        http = httpx.Client(
            timeout=10, event_hooks={"request": [lambda r: requests.append(r.url.path)]}
        )
        platform = HttpPlatform(
            ApiClient(world.url, http=http, token=world.a.token), subscriber=on_bare_node
        )
        subscription = platform.subscribe(world.a.workflow_id)
        try:
            for name in ("ada", "grace"):
                answer = _call_webhook(world, world.a, name)
                event = listener.get(timeout=10)
                assert event is not None
                platform.reply(
                    world.a.workflow_id, event["reply_to"], event["token"], _result(name)
                )
                got = answer()
                assert (got.status_code, got.json()) == (200, {"message": name})
        finally:
            subscription.close()
            listener.close()
    assert len([path for path in requests if path.startswith("/api/dev/replies")]) == 2


def test_a_connection_whose_token_was_revoked_answers_over_http_and_goes_on(
    world: World,
) -> None:
    """The connection keeps the token it was made with while the CLI refreshes its own; once
    the connection's token no longer stands, the next answer goes over HTTP with the fresh
    token, and the connection goes on delivering events (Centrifugo must not be told to drop
    it)."""
    identity = world.server.adapters.identity
    user = identity.verify(world.a.token)
    tokens = [identity.issue_token(user)]
    requests: list[str] = []

    def record(request: httpx.Request) -> None:
        requests.append(request.url.path)

    http = httpx.Client(timeout=10, event_hooks={"request": [record]})
    platform = HttpPlatform(ApiClient(world.url, http=http, token=lambda: tokens[-1]))
    subscription = platform.subscribe(world.a.workflow_id)
    try:
        answer = _call_webhook(world, world.a, "one")
        event = subscription.get(timeout=10)
        assert event is not None
        tokens.append(identity.issue_token(user))  # the CLI's refreshed token
        identity.revoke(tokens[0])
        time.sleep(REACH_TTL_S + 0.3)  # past the embedded hub's re-check of the connection
        platform.reply(world.a.workflow_id, event["reply_to"], event["token"], _result("one"))
        assert answer().json() == {"message": "one"}
        assert [p for p in requests if p.startswith("/api/dev/replies")]
        answer = _call_webhook(world, world.a, "two")
        event = subscription.get(timeout=10)
        assert event is not None, f"the connection ended: {subscription.failure}"
        platform.reply(world.a.workflow_id, event["reply_to"], event["token"], _result("two"))
        assert answer().json() == {"message": "two"}
    finally:
        subscription.close()
