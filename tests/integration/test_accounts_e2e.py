"""Users, roles and logins against a real ``floww serve`` on loopback, killed and started
again on the same home:

- a refresh token rotates on use; presenting a spent one revokes the whole login (its newest
  access token included); ``/api/auth/logout`` ends a login at once;
- an administrator invites users; an owner makes one a viewer, who reads but cannot deploy;
  a disabled user is refused at once;
- a registry push token answers nothing of the API;
- after SIGKILL and a restart, every one of these answers is the same: the state is on disk,
  not in the process.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.serving import RunningServer, approve_user_code, running_server

pytestmark = pytest.mark.integration

REFRESH = "refresh_token"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


def _login(server: RunningServer, email: str = "admin@localhost", password: str = "") -> Any:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        started = http.post("/api/auth/device", data={"client_id": "floww-tests"}).json()
        approve_user_code(server, started["user_code"], email, password)
        answer = http.post(
            "/api/auth/token",
            data={"grant_type": DEVICE, "device_code": started["device_code"]},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


def _refresh(http: httpx.Client, refresh_token: str) -> httpx.Response:
    return http.post("/api/auth/token", data={"grant_type": REFRESH, REFRESH: refresh_token})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def first(home: Path) -> Iterator[RunningServer]:
    home.mkdir()
    with running_server(home, name="first") as server:
        yield server


def test_logins_roles_and_scopes_hold_across_a_kill_and_restart(
    home: Path, first: RunningServer
) -> None:
    server = first
    admin_password = server.admin_password
    with httpx.Client(base_url=server.url, timeout=10) as http:
        # refresh rotation and reuse
        stolen = _login(server)
        rotated = _refresh(http, stolen[REFRESH])
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()[REFRESH] != stolen[REFRESH]
        newest = rotated.json()
        assert http.get("/api/whoami", headers=_bearer(newest["access_token"])).status_code == 200
        reused = _refresh(http, stolen[REFRESH])
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        assert "used already" in reused.json()["error_description"]
        assert http.get("/api/whoami", headers=_bearer(newest["access_token"])).status_code == 401
        assert _refresh(http, newest[REFRESH]).status_code == 400

        # logout
        ended = _login(server)
        assert (
            http.post("/api/auth/logout", headers=_bearer(ended["access_token"])).status_code == 204
        )
        assert http.get("/api/whoami", headers=_bearer(ended["access_token"])).status_code == 401
        assert _refresh(http, ended[REFRESH]).status_code == 400

        # users and roles
        kept = _login(server)
        admin = _bearer(kept["access_token"])
        namespace = http.get("/api/namespaces", headers=admin).json()["items"][0]
        invited = {}
        for email in ("viewer@example.com", "eve@example.com"):
            made = http.post("/api/users", json={"email": email}, headers=admin)
            assert made.status_code == 201, made.text
            invited[email] = made.json()
        put = http.put(
            f"/api/namespaces/{namespace['id']}/members/viewer@example.com",
            json={"role": "viewer"},
            headers=admin,
        )
        assert put.status_code == 200, put.text
        viewer = _login(
            server, "viewer@example.com", invited["viewer@example.com"]["initial_password"]
        )
        eve = _login(server, "eve@example.com", invited["eve@example.com"]["initial_password"])
        eve_id = invited["eve@example.com"]["user"]["id"]
        assert http.post(f"/api/users/{eve_id}/disable", headers=admin).status_code == 200
        push = http.post(
            f"/api/namespaces/{namespace['id']}/registry-credentials",
            json={"repository": f"floww/{namespace['id']}"},
            headers=admin,
        ).json()["password"]

        kept_refresh = [kept[REFRESH]]

        def rotate_kept() -> int:
            answer = _refresh(http, kept_refresh[0])
            if answer.status_code == 200:
                kept_refresh[0] = answer.json()[REFRESH]
            return answer.status_code

        def answers() -> dict[str, int]:
            return {
                "kept": http.get("/api/whoami", headers=admin).status_code,
                "kept_refresh": rotate_kept(),
                "stolen_newest": http.get(
                    "/api/whoami", headers=_bearer(newest["access_token"])
                ).status_code,
                "stolen_refresh": _refresh(http, stolen[REFRESH]).status_code,
                "ended": http.get(
                    "/api/whoami", headers=_bearer(ended["access_token"])
                ).status_code,
                "viewer_reads": http.get(
                    f"/api/namespaces/{namespace['id']}/workflows",
                    headers=_bearer(viewer["access_token"]),
                ).status_code,
                "viewer_deploys": http.post(
                    f"/api/namespaces/{namespace['id']}/workflows",
                    json={"name": "nope"},
                    headers=_bearer(viewer["access_token"]),
                ).status_code,
                "eve": http.get("/api/whoami", headers=_bearer(eve["access_token"])).status_code,
                "eve_refresh": _refresh(http, eve[REFRESH]).status_code,
                "push_whoami": http.get("/api/whoami", headers=_bearer(push)).status_code,
                "push_namespaces": http.get("/api/namespaces", headers=_bearer(push)).status_code,
            }

        before = answers()
    expected = {
        "kept": 200,
        "kept_refresh": 200,
        "stolen_newest": 401,
        "stolen_refresh": 400,
        "ended": 401,
        "viewer_reads": 200,
        "viewer_deploys": 403,
        "eve": 401,
        "eve_refresh": 400,
        "push_whoami": 403,
        "push_namespaces": 403,
    }
    assert before == expected

    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    with (
        running_server(home, name="second") as again,
        httpx.Client(base_url=again.url, timeout=10) as http,
    ):
        assert again.admin_password == admin_password
        after = answers()
    assert after == expected
