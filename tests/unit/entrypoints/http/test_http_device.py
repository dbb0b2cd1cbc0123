"""RFC 8628 device flow over the API, and the approval page."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from conftest import PASSWORD

if TYPE_CHECKING:
    from conftest import World

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _form_token(page: str) -> str:
    found = re.search(r"name=form_token value='([^']+)'", page)
    assert found is not None, page
    return found.group(1)


def _poll(world: World, device_code: str) -> tuple[int, dict[str, object]]:
    answer = world.client.post(
        "/api/auth/token", data={"grant_type": GRANT, "device_code": device_code}
    )
    return answer.status_code, answer.json()


def test_device_flow_through_the_page(world: World) -> None:
    started = world.client.post("/api/auth/device", data={"client_id": "floww-cli"})
    assert started.status_code == 200
    device = started.json()
    assert {"device_code", "user_code", "verification_uri", "expires_in", "interval"} <= set(device)
    assert _poll(world, device["device_code"]) == (400, _poll_error("authorization_pending"))

    page = world.client.get("/device", params={"user_code": device["user_code"]})
    assert page.status_code == 200
    assert f"value='{device['user_code']}'" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script" not in page.text
    token = _form_token(page.text)

    wrong = world.client.post(
        "/device",
        data={
            "form_token": token,
            "user_code": device["user_code"],
            "email": "ada@example.com",
            "password": "nope",
        },
    )
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text

    reused = world.client.post(
        "/device",
        data={
            "form_token": token,
            "user_code": device["user_code"],
            "email": "ada@example.com",
            "password": PASSWORD,
        },
    )
    assert reused.status_code == 403  # the form token was used up

    approved = world.client.post(
        "/device",
        data={
            "form_token": _form_token(wrong.text),
            "user_code": device["user_code"],
            "email": "ada@example.com",
            "password": PASSWORD,
            "decision": "approve",
        },
    )
    assert approved.status_code == 200 and "Device approved" in approved.text

    (pending,) = [
        d for d in world.auth.device_flow.pending() if d.device_code == device["device_code"]
    ]
    pending.last_poll = None  # skip the poll interval
    status, tokens = _poll(world, device["device_code"])
    assert status == 200 and tokens["token_type"] == "Bearer"
    me = world.client.get(
        "/api/whoami", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["email"] == "ada@example.com"


def _poll_error(code: str) -> dict[str, object]:
    return {"error": code, "error_description": code.replace("_", " ")}


def test_denied_device_gets_access_denied(world: World) -> None:
    device = world.client.post("/api/auth/device", json={}).json()
    page = world.client.get("/device")
    denied = world.client.post(
        "/device",
        data={
            "form_token": _form_token(page.text),
            "user_code": device["user_code"],
            "email": "ada@example.com",
            "password": PASSWORD,
            "decision": "deny",
        },
    )
    assert denied.status_code == 200 and "denied" in denied.text
    status, body = _poll(world, device["device_code"])
    assert (status, body["error"]) == (400, "access_denied")


def test_token_endpoint_errors(world: World) -> None:
    wrong_grant = world.client.post("/api/auth/token", data={"grant_type": "password"})
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    assert _poll(world, "no-such-code")[1]["error"] == "invalid_grant"
    missing = world.client.post("/api/auth/token", data={"grant_type": GRANT})
    assert missing.json()["error"] == "invalid_request"
    device = world.client.post("/api/auth/device").json()
    _poll(world, device["device_code"])
    assert _poll(world, device["device_code"])[1]["error"] == "slow_down"


def test_page_escapes_what_it_echoes_and_rejects_cross_origin(world: World) -> None:
    page = world.client.get("/device", params={"user_code": "'><script>alert(1)</script>"})
    assert "<script>" not in page.text and "&#x27;&gt;&lt;script&gt;" in page.text
    cross = world.client.post(
        "/device",
        data={
            "form_token": _form_token(page.text),
            "user_code": "X",
            "email": "e",
            "password": "p",
        },
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403


def test_unknown_user_code_says_so(world: World) -> None:
    page = world.client.get("/device")
    answer = world.client.post(
        "/device",
        data={
            "form_token": _form_token(page.text),
            "user_code": "BCDF-GHJK",
            "email": "ada@example.com",
            "password": PASSWORD,
        },
    )
    assert answer.status_code == 404 and "unknown or has expired" in answer.text


def test_without_password_login_the_page_points_at_the_identity_provider(world: World) -> None:
    import attrs
    from starlette.testclient import TestClient

    from floww.entrypoints.http.app import create_app

    services = attrs.evolve(world.client.app.state.services, password_login=None)  # type: ignore[attr-defined]
    client = TestClient(create_app(services))
    page = client.get("/device")
    assert page.status_code == 200 and "identity provider" in page.text
    assert "<form" not in page.text
    assert client.post("/device", data={"user_code": "X"}).status_code == 404
