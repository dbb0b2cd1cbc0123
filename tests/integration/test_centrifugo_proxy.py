"""Centrifugo's connect and subscribe proxies on a floww server (memory profile,
``FLOWW_REALTIME=centrifugo``) served by uvicorn on loopback, and the embedded hub playing
Centrifugo in front of it.

The proxy requests are shaped as Centrifugo sends them over HTTP (fields ``client``,
``transport``, ``protocol``, ``encoding``, ``user``, ``channel``; the client's
``Authorization`` header forwarded). The stand-in does not cover Centrifugo's JWT checks,
connection expiry and the refresh proxies, nor its clustering."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from floww.adapters.centrifugo import CentrifugoRealtime
from floww.adapters.http_client.centrifuge_subscription import CentrifugeSubscription
from floww.bootstrap import Server, build_server
from floww.domain.errors import PermissionDenied, Unauthenticated, Unavailable
from floww.domain.usecases.workflows import create_namespace
from floww.ports.realtime import workflow_channel
from floww.settings import Settings
from tests.centrifugo_standin import Standin, running_standin
from tests.integration.serving import free_port
from tests.integration.test_realtime_hub import serving

pytestmark = pytest.mark.integration

API_KEY = "proxy-test-api-key"


@attrs.frozen
class Tenant:
    user_id: str
    token: str
    workflow_id: str


@attrs.frozen
class Cloud:
    server: Server
    url: str
    standin: Standin
    a: Tenant
    b: Tenant


def tenant_with_workflow(server: Server, url: str, email: str) -> Tenant:
    """A user with a namespace of their own and a workflow ``hello`` in it."""
    identity: Any = server.adapters.identity
    user = identity.create_user(email)
    token = identity.issue_token(user)
    namespace = create_namespace(server.deps, user, email.split("@")[0])
    made = httpx.post(
        f"{url}/api/namespaces/{namespace.id}/workflows",
        json={"name": "hello"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.text
    return Tenant(user.id, token, made.json()["id"])


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    port, standin_port = free_port(), free_port()
    settings = Settings.load(
        {
            "FLOWW_HOME": str(tmp_path_factory.mktemp("home")),
            "FLOWW_PROFILE": "memory",
            "FLOWW_PORT": str(port),
            "FLOWW_REALTIME": "centrifugo",
            "FLOWW_CENTRIFUGO_API_URL": f"http://127.0.0.1:{standin_port}",
            "FLOWW_CENTRIFUGO_API_KEY": API_KEY,
            "FLOWW_CENTRIFUGO_WS_URL": f"ws://127.0.0.1:{standin_port}/connection/websocket",
        }
    )
    server = build_server(settings)
    try:
        with serving(server.app, port):
            url = settings.base_url
            with running_standin(url, api_key=API_KEY, port=standin_port) as standin:
                a = tenant_with_workflow(server, url, "a@example.com")
                b = tenant_with_workflow(server, url, "b@example.com")
                yield Cloud(server, url, standin, a, b)
    finally:
        server.close()


def _proxy(cloud: Cloud, path: str, body: Any, token: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{cloud.url}/centrifugo/{path}", json=body, headers=headers, timeout=10)


def _connect_request() -> dict[str, Any]:
    return {
        "client": str(uuid.uuid4()),
        "transport": "websocket",
        "protocol": "json",
        "encoding": "json",
    }


def _subscribe_request(user: str, channel: str) -> dict[str, Any]:
    return {**_connect_request(), "user": user, "channel": channel}


# the proxy endpoints, as Centrifugo calls them ------------------------------------------------


def test_config_tells_clients_the_centrifugo_websocket(cloud: Cloud) -> None:
    config = httpx.get(f"{cloud.url}/api/config").json()
    assert config["realtime_url"] == cloud.standin.ws_url


def test_connect_proxy_names_the_user_of_a_good_token(cloud: Cloud) -> None:
    answer = _proxy(cloud, "connect", _connect_request(), cloud.a.token)
    assert (answer.status_code, answer.json()) == (200, {"result": {"user": cloud.a.user_id}})


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Basic dXNlcjpwdw==", "Bearer flw_forged", "Bearer x y"]
)
def test_connect_proxy_disconnects_without_good_credentials(
    cloud: Cloud, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = httpx.post(
        f"{cloud.url}/centrifugo/connect", json=_connect_request(), headers=headers, timeout=10
    )
    assert answer.status_code == 200
    assert answer.json() == {"disconnect": {"code": 4501, "reason": "unauthorized"}}


@pytest.mark.parametrize("body", [[], "text", {"transport": "websocket"}, {"client": 5}])
def test_a_request_that_is_not_a_proxy_request_is_400(cloud: Cloud, body: Any) -> None:
    for path in ("connect", "subscribe"):
        answer = _proxy(cloud, path, body, cloud.a.token)
        assert answer.status_code == 400, answer.text
        assert "proxy request" in answer.json()["error"]["message"]


def test_subscribe_proxy_allows_the_users_own_workflow(cloud: Cloud) -> None:
    request = _subscribe_request(cloud.a.user_id, workflow_channel(cloud.a.workflow_id))
    answer = _proxy(cloud, "subscribe", request, cloud.a.token)
    assert (answer.status_code, answer.json()) == (200, {"result": {}})


def test_subscribe_proxy_refuses_another_tenants_workflow(cloud: Cloud) -> None:
    request = _subscribe_request(cloud.a.user_id, workflow_channel(cloud.b.workflow_id))
    answer = _proxy(cloud, "subscribe", request, cloud.a.token)
    assert answer.status_code == 200
    assert answer.json() == {"error": {"code": 403, "message": "permission denied"}}


@pytest.mark.parametrize("channel", ["workflow:", "workflow:wf_missing", "secrets:all", "workflow"])
def test_subscribe_proxy_refuses_channels_that_are_not_the_users(
    cloud: Cloud, channel: str
) -> None:
    answer = _proxy(cloud, "subscribe", _subscribe_request(cloud.a.user_id, channel), cloud.a.token)
    assert answer.json() == {"error": {"code": 403, "message": "permission denied"}}


def test_subscribe_proxy_refuses_a_token_of_another_user_than_the_connection(
    cloud: Cloud,
) -> None:
    # B's token on a connection Centrifugo authenticated as A: no one borrows a connection.
    request = _subscribe_request(cloud.a.user_id, workflow_channel(cloud.b.workflow_id))
    answer = _proxy(cloud, "subscribe", request, cloud.b.token)
    assert answer.json() == {"error": {"code": 403, "message": "permission denied"}}


def test_subscribe_proxy_disconnects_a_bad_token(cloud: Cloud) -> None:
    request = _subscribe_request(cloud.a.user_id, workflow_channel(cloud.a.workflow_id))
    answer = _proxy(cloud, "subscribe", request, "flw_forged")
    assert answer.json() == {"disconnect": {"code": 4501, "reason": "unauthorized"}}


# the dev client through the stand-in ----------------------------------------------------------


def test_the_dev_client_hears_what_the_server_publishes_through_centrifugo(cloud: Cloud) -> None:
    channel = workflow_channel(cloud.a.workflow_id)
    subscription = CentrifugeSubscription(cloud.standin.ws_url, cloud.a.token, channel)
    try:
        cloud.server.deps.realtime.publish(channel, {"type": "event", "n": 1})
        assert subscription.get(timeout=5) == {"type": "event", "n": 1}
    finally:
        subscription.close()


def test_the_dev_client_may_not_listen_to_another_tenant(cloud: Cloud) -> None:
    with pytest.raises(PermissionDenied):
        CentrifugeSubscription(
            cloud.standin.ws_url, cloud.a.token, workflow_channel(cloud.b.workflow_id)
        )


def test_the_dev_client_with_a_forged_token_is_refused_for_good(cloud: Cloud) -> None:
    with pytest.raises(Unauthenticated):
        CentrifugeSubscription(
            cloud.standin.ws_url, "flw_forged", workflow_channel(cloud.a.workflow_id)
        )


# the publisher's errors, and the stand-in's server API ---------------------------------------


def test_a_wrong_api_key_is_refused(cloud: Cloud) -> None:
    wrong = CentrifugoRealtime(cloud.standin.api_url, "wrong-key")
    try:
        with pytest.raises(Unavailable, match="refused the API key") as raised:
            wrong.publish(workflow_channel(cloud.a.workflow_id), {"n": 1})
        assert "wrong-key" not in str(raised.value)
    finally:
        wrong.close()
    answer = httpx.post(f"{cloud.standin.api_url}/api/publish", json={"channel": "c", "data": {}})
    assert answer.status_code == 401


@pytest.mark.parametrize("body", [[], {"data": {}}, {"channel": "c", "data": [1]}])
def test_the_standin_answers_bad_publish_requests_as_centrifugo(cloud: Cloud, body: Any) -> None:
    answer = httpx.post(
        f"{cloud.standin.api_url}/api/publish", json=body, headers={"X-API-Key": API_KEY}
    )
    assert (answer.status_code, answer.json()) == (
        200,
        {"error": {"code": 107, "message": "bad request"}},
    )


def test_a_centrifugo_that_hangs_times_out_as_unavailable(tmp_path: Path) -> None:
    with socket.socket() as hanging:  # accepts connections (backlog), never answers
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(8)
        port = hanging.getsockname()[1]
        realtime = CentrifugoRealtime(f"http://127.0.0.1:{port}", "key", timeout_s=0.3)
        try:
            with pytest.raises(Unavailable, match="did not answer publish in time"):
                realtime.publish("workflow:x", {"n": 1})
        finally:
            realtime.close()


def test_a_message_json_cannot_carry_is_invalid_before_anything_is_sent(cloud: Cloud) -> None:
    from floww.domain.errors import InvalidInput

    realtime = CentrifugoRealtime("http://127.0.0.1:1", "key")
    try:
        with pytest.raises(InvalidInput):
            realtime.publish("workflow:x", {"n": float("nan")})
    finally:
        realtime.close()
