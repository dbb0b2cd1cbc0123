"""The CLI's device-flow client against an identity provider's endpoints (as WorkOS CLI Auth
advertises them in ``/api/config``), over ``httpx.MockTransport``: the advertised client id is
sent with every request, and a provider that cannot be reached is named as itself."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest

from floww.adapters.http_client.client import ApiClient
from floww.adapters.http_client.device_login import DEVICE_GRANT, DeviceFlowClient
from floww.domain.errors import Unavailable

SERVER = "http://floww.test"
PROVIDER = "https://idp.test"
AUTH = {
    "client_id": "client_123",
    "device_authorization_endpoint": f"{PROVIDER}/user_management/authorize/device",
    "token_endpoint": f"{PROVIDER}/user_management/authenticate",
}


def test_the_advertised_client_id_goes_with_the_start_and_every_poll() -> None:
    seen: list[tuple[str, dict[str, list[str]]]] = []
    answers = iter(
        [
            httpx.Response(400, json={"error": "authorization_pending"}),
            httpx.Response(200, json={"access_token": "at", "refresh_token": "rt"}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), parse_qs(request.content.decode())))
        if request.url.path.endswith("/device"):
            return httpx.Response(
                200,
                json={
                    "device_code": "dc",
                    "user_code": "ABCD-EFGH",
                    "verification_uri": f"{PROVIDER}/device",
                    "verification_uri_complete": f"{PROVIDER}/device?user_code=ABCD-EFGH",
                    "expires_in": 300,
                    "interval": 1,
                },
            )
        return next(answers)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    flow = DeviceFlowClient(ApiClient(SERVER, http=http), AUTH, sleep=lambda _: None)
    device = flow.start()
    tokens = flow.poll(device)

    assert device.verification_uri_complete == f"{PROVIDER}/device?user_code=ABCD-EFGH"
    assert tokens.access_token == "at" and tokens.refresh_token == "rt"
    assert [url for url, _ in seen] == [AUTH["device_authorization_endpoint"]] + [
        AUTH["token_endpoint"]
    ] * 2
    assert all(form["client_id"] == ["client_123"] for _, form in seen)
    assert seen[1][1]["grant_type"] == [DEVICE_GRANT] and seen[1][1]["device_code"] == ["dc"]


def test_an_unreachable_provider_is_named_as_itself() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    flow = DeviceFlowClient(ApiClient(SERVER, http=http), AUTH)
    with pytest.raises(Unavailable) as raised:
        flow.start()
    assert str(raised.value) == (
        f"cannot reach {AUTH['device_authorization_endpoint']}; try again later"
    )


def test_a_provider_answering_5xx_is_unavailable_naming_it() -> None:
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(503, text=json.dumps({})))
    )
    flow = DeviceFlowClient(ApiClient(SERVER, http=http), AUTH)
    with pytest.raises(
        Unavailable, match=f"{PROVIDER}/user_management/authorize/device answered 503"
    ):
        flow.start()
