"""The cloud identity end to end: a real ``floww serve`` with ``FLOWW_IDENTITY=workos`` and the
real CLI, against the WorkOS stand-in (a loopback server implementing the documented WorkOS
endpoints; the real ``workos`` SDK inside the server talks to it).

Shown: ``floww login`` unchanged through WorkOS CLI Auth (the device code approved at the
stand-in, as a person would on WorkOS's page), the organization's namespace provisioned and
chosen; tokens refused at the API (unknown key, expired, another client); one organization's
user cannot see another's namespace; AuthKit browser sign-in with a signed HttpOnly SameSite
cookie and sign-out ending the WorkOS session; WorkOS answering 5xx or unreachable giving the
CLI a clear error and the API a 503.

The stand-in does not cover WorkOS's hosted pages (the approval and the browser sign-in are
made by the test), nor its rate limits.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from floww.testing.workos_standin import WorkOSStandIn
from tests.integration.serving import FLOWW, RunningServer, free_port, running_server

pytestmark = pytest.mark.integration

CLIENT = "client_floww"
COOKIE_SECRET = "s" * 40


@pytest.fixture(scope="module")
def standin() -> Iterator[WorkOSStandIn]:
    with WorkOSStandIn(clients=(CLIENT, "client_other")) as running:
        running.acme = running.add_organization("Acme Corp")  # type: ignore[attr-defined]
        running.beta = running.add_organization("Beta")  # type: ignore[attr-defined]
        yield running


def _workos_env(standin_url: str, port: int) -> dict[str, str]:
    return {
        "FLOWW_IDENTITY": "workos",
        "FLOWW_WORKOS_CLIENT_ID": CLIENT,
        "FLOWW_WORKOS_API_KEY": "sk_test_standin",
        "FLOWW_WORKOS_BASE_URL": standin_url,
        "FLOWW_WORKOS_REDIRECT_URI": f"http://127.0.0.1:{port}/auth/callback",
        "FLOWW_WORKOS_COOKIE_PASSWORD": COOKIE_SECRET,
    }


@pytest.fixture(scope="module")
def server(
    standin: WorkOSStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    port = free_port()
    home = tmp_path_factory.mktemp("workos-home")
    with running_server(home, env=_workos_env(standin.url, port), port=port) as running:
        yield running


def _cli_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWW_TOKEN", "FLOWW_SERVER")}
    return env | {"XDG_CONFIG_HOME": str(base / "config"), "XDG_CACHE_HOME": str(base / "cache")}


def _floww(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLOWW, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _login(server: RunningServer, env: dict[str, str], approve: object) -> tuple[int, str]:
    """``floww login --no-browser``; ``approve(user_code)`` plays the person."""
    process = subprocess.Popen(
        [*FLOWW, "login", "--server", server.url, "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            found = re.search(r"enter the code:\s+([A-Z]{4}-[A-Z]{4})", line)
            if found:
                approve(found.group(1))  # type: ignore[operator]
                break
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return process.returncode, "".join(seen) + rest


def test_floww_login_through_workos_cli_auth(
    standin: WorkOSStandIn, server: RunningServer, tmp_path: Path
) -> None:
    ada = standin.add_user("ada@acme.test")
    standin.add_membership(ada, standin.acme, "admin")  # type: ignore[attr-defined]
    env = _cli_env(tmp_path)

    code, output = _login(server, env, lambda user_code: standin.approve(user_code, ada))

    assert code == 0, output
    assert f"open:\n\n    {standin.url}/device\n" in output  # WorkOS's verification page
    assert "Logged in" in output and "ada@acme.test" in output
    assert "Namespace: acme-corp" in output
    assert "POST /user_management/authorize/device" in standin.requests
    shown = _floww(env, "namespace", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [n["name"] for n in json.loads(shown.stdout)["namespaces"]] == ["acme-corp"]

    # The access token expires: the CLI trades its refresh token at WorkOS, once.
    path = tmp_path / "config" / "floww" / "credentials.json"
    stored = json.loads(path.read_text())
    first = stored["servers"][server.url]
    stored["servers"][server.url]["expires_at"] = 0
    path.write_text(json.dumps(stored))
    grants = standin.requests.count("POST /user_management/authenticate")
    again = _floww(env, "whoami")
    assert again.returncode == 0 and "ada@acme.test" in again.stdout, again.stderr
    assert standin.requests.count("POST /user_management/authenticate") == grants + 1
    renewed = json.loads(path.read_text())["servers"][server.url]
    assert renewed["refresh_token"] != first["refresh_token"]  # WorkOS's are single-use
    assert renewed["access_token"] != first["access_token"]


def test_config_advertises_workos_cli_auth(standin: WorkOSStandIn, server: RunningServer) -> None:
    auth = httpx.get(f"{server.url}/api/config").json()["auth"]
    assert auth["client_id"] == CLIENT
    assert auth["device_authorization_endpoint"] == (
        f"{standin.url}/user_management/authorize/device"
    )
    assert auth["token_endpoint"] == f"{standin.url}/user_management/authenticate"
    refused = httpx.post(f"{server.url}/api/auth/device", data={"client_id": "x"})
    assert refused.status_code == 400, refused.text
    assert "WorkOS" in json.dumps(refused.json())


def _get(server: RunningServer, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"})


def test_refused_tokens_and_organization_isolation(
    standin: WorkOSStandIn, server: RunningServer
) -> None:
    ann = standin.add_user("ann@acme.test")
    standin.add_membership(ann, standin.acme, "member")  # type: ignore[attr-defined]
    bea = standin.add_user("bea@beta.test")
    standin.add_membership(bea, standin.beta, "admin")  # type: ignore[attr-defined]

    for token in (
        standin.access_token(ann, signed_by="forger"),
        standin.access_token(ann, expires_in=-300),
        standin.access_token(ann, client_id="client_other"),
    ):
        refused = _get(server, "/api/whoami", token)
        assert refused.status_code == 401, refused.text

    [acme] = _get(server, "/api/namespaces", standin.access_token(ann)).json()["items"]
    [beta] = _get(server, "/api/namespaces", standin.access_token(bea)).json()["items"]
    assert (acme["name"], beta["name"]) == ("acme-corp", "beta")
    bea_token = standin.access_token(bea)
    assert _get(server, f"/api/namespaces/{acme['id']}", bea_token).status_code == 404
    assert _get(server, f"/api/namespaces/{acme['id']}/workflows", bea_token).status_code == 404
    assert _get(server, f"/api/namespaces/{beta['id']}", bea_token).status_code == 200


def test_browser_sign_in_and_sign_out(standin: WorkOSStandIn, server: RunningServer) -> None:
    cy = standin.add_user("cy@acme.test")
    standin.add_membership(cy, standin.acme, "viewer")  # type: ignore[attr-defined]
    standin.browser_user = cy
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser:
        started = browser.get("/auth/signin")
        assert started.status_code == 302
        assert started.headers["location"].startswith(f"{standin.url}/user_management/authorize")
        assert "httponly" in started.headers["set-cookie"].lower()
        at_workos = httpx.get(started.headers["location"], follow_redirects=False)
        back = at_workos.headers["location"]
        assert back.startswith(f"{server.url}/auth/callback?code=")

        forged_state = re.sub(r"state=[^&]+", "state=forged", back)
        assert browser.get(forged_state).status_code == 400

        signed_in = browser.get(back)
        assert signed_in.status_code == 302, signed_in.text
        cookies = [
            c for c in signed_in.headers.get_list("set-cookie") if c.startswith("floww_session=")
        ]
        assert sorted(re.findall(r"Path=(/\w+)", "".join(cookies))) == ["/auth", "/ui"]
        assert all("httponly" in c.lower() and "samesite=lax" in c.lower() for c in cookies)
        page = browser.get("/auth/session")
        assert page.status_code == 200 and "cy@acme.test" in page.text

        value = browser.cookies.get("floww_session", path="/auth")
        assert value is not None
        tampered = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
        assert (
            httpx.get(f"{server.url}/auth/session", cookies={"floww_session": tampered}).status_code
            == 401
        )

        out = browser.post("/auth/signout")
        assert out.status_code == 303
        logout = out.headers["location"]
        assert logout.startswith(f"{standin.url}/user_management/sessions/logout?session_id=")
        assert any(c.startswith('floww_session=""') for c in out.headers.get_list("set-cookie"))
        assert browser.get("/auth/session").status_code == 401
        ended = httpx.get(logout, follow_redirects=False)
        assert ended.status_code == 302 and ended.headers["location"] == f"{server.url}/"
        assert all(s.ended for s in standin.sessions.values() if s.user_id == cy)


def test_workos_failing_gives_a_clear_cli_error_and_503(
    standin: WorkOSStandIn, server: RunningServer, tmp_path: Path
) -> None:
    dan = standin.add_user("dan@acme.test")
    standin.add_membership(dan, standin.acme, "member")  # type: ignore[attr-defined]
    token = standin.access_token(dan)  # never seen by the server: it must ask WorkOS
    standin.fail_with = 503
    try:
        answer = _get(server, "/api/whoami", token)
        assert answer.status_code == 503, answer.text
        assert "WorkOS" in answer.json()["error"]["message"]

        failed = _floww(_cli_env(tmp_path), "login", "--server", server.url, "--no-browser")
        assert failed.returncode != 0
        assert "answered 503" in failed.stderr and "Traceback" not in failed.stderr
    finally:
        standin.fail_with = None


def test_workos_unreachable_gives_a_clear_cli_error_and_503(
    standin: WorkOSStandIn, tmp_path: Path
) -> None:
    port, dead = free_port(), f"http://127.0.0.1:{free_port()}"
    with running_server(tmp_path / "home", env=_workos_env(dead, port), port=port) as server:
        user = standin.add_user("eve@acme.test")
        answer = _get(server, "/api/whoami", standin.access_token(user))
        assert answer.status_code == 503 and "WorkOS" in answer.json()["error"]["message"]

        failed = _floww(_cli_env(tmp_path), "login", "--server", server.url, "--no-browser")
        assert failed.returncode != 0 and "Traceback" not in failed.stderr
        assert f"cannot reach {dead}/user_management/authorize/device" in failed.stderr


def test_a_restart_keeps_sessions_tokens_and_provisioned_namespaces(
    standin: WorkOSStandIn, tmp_path: Path
) -> None:
    fay = standin.add_user("fay@beta.test")
    standin.add_membership(fay, standin.beta, "member")  # type: ignore[attr-defined]
    standin.browser_user = fay
    port, home = free_port(), tmp_path / "home"
    env = _workos_env(standin.url, port)
    with running_server(home, env=env, port=port) as server, httpx.Client(timeout=10) as browser:
        started = browser.get(f"{server.url}/auth/signin")
        browser.get(httpx.get(started.headers["location"]).headers["location"])
        cookie = browser.cookies.get("floww_session", path="/auth")
        assert cookie, "the callback set no session cookie for /auth"
        before = _get(server, "/api/namespaces", standin.access_token(fay)).json()["items"]
    with running_server(home, env=env, port=port) as server:
        page = httpx.get(f"{server.url}/auth/session", cookies={"floww_session": cookie})
        assert page.status_code == 200 and "fay@beta.test" in page.text
        dashboard = httpx.get(f"{server.url}/ui/", cookies={"floww_session": cookie})
        assert dashboard.status_code == 200 and ">beta</a>" in dashboard.text
        after = _get(server, "/api/namespaces", standin.access_token(fay)).json()["items"]
    assert [n["id"] for n in after] == [n["id"] for n in before] != []


def test_a_login_denied_at_workos_exits_with_a_sentence(
    standin: WorkOSStandIn, server: RunningServer, tmp_path: Path
) -> None:
    code, output = _login(server, _cli_env(tmp_path), standin.deny)
    assert code == 77, output
    assert "denied" in output and "Traceback" not in output
