"""The dashboard with WorkOS in a real headless Chromium (Debian's ``chromium``, driven by
Playwright) against a real ``floww serve`` with ``FLOWW_IDENTITY=workos`` and the WorkOS
stand-in (a loopback server implementing WorkOS's documented endpoints; the real ``workos`` SDK
in the server talks to it): sign in through AuthKit, see the organization's namespace and a
workflow the real CLI deployed, sign out (which ends the WorkOS session). No page may log a
console error.

The server is reached as ``localhost`` and the stand-in as ``127.0.0.1``: two sites, so the
person submits the sign-in form on another site and comes back on a cross-site redirect, as
from WorkOS's own domain (a ``SameSite=Strict`` session cookie would not be sent then).

The stand-in's sign-in page only asks for an email: AuthKit's real pages (passwords, social
and magic-link sign-in, MFA) are not covered, nor WorkOS's rate limits.

Screenshots go to ``$FLOWW_TEST_ARTIFACTS/dashboard-workos`` (or the test's tmp dir).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api

from floww.testing.workos_standin import WorkOSStandIn
from tests.integration.lifecycle import deploy, make_project
from tests.integration.serving import free_port, running_server

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CLIENT = "client_floww"
TIMEOUT_MS = 15_000


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    base = os.environ.get("FLOWW_TEST_ARTIFACTS")
    folder = (Path(base) if base else tmp_path / "artifacts") / "dashboard-workos"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


def test_workos_user_signs_in_sees_the_organization_and_signs_out(
    tmp_path: Path, browser: object, artifacts: Path
) -> None:
    with WorkOSStandIn(clients=(CLIENT,)) as standin:
        acme = standin.add_organization("Acme Corp")
        ada = standin.add_user("ada@acme.test")
        standin.add_membership(ada, acme, "admin")
        standin.sign_in_page = True  # "AuthKit" asks for the email in a page
        port = free_port()
        url = f"http://localhost:{port}"
        env = {
            "FLOWW_IDENTITY": "workos",
            "FLOWW_PUBLIC_URL": url,
            "FLOWW_WORKOS_CLIENT_ID": CLIENT,
            "FLOWW_WORKOS_API_KEY": standin.api_key,
            "FLOWW_WORKOS_BASE_URL": standin.url,
            "FLOWW_WORKOS_REDIRECT_URI": f"{url}/auth/callback",
            "FLOWW_WORKOS_COOKIE_PASSWORD": "k" * 40,
        }
        home = tmp_path / "home"
        home.mkdir()
        with running_server(home, env=env, port=port) as server:
            cli = {k: v for k, v in os.environ.items() if not k.startswith("FLOWW_")} | {
                "XDG_CONFIG_HOME": str(tmp_path / "config"),
                "XDG_CACHE_HOME": str(tmp_path / "cache"),
                "FLOWW_SERVER": server.url,
                "FLOWW_TOKEN": standin.access_token(ada),
            }
            deploy(cli, make_project(tmp_path, "hello", cli))

            page = browser.new_page()  # type: ignore[attr-defined]
            page.set_default_timeout(TIMEOUT_MS)
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))

            def look(name: str) -> None:
                page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

            # the dashboard's sign-in page leads to AuthKit, which comes back signed in
            page.goto(url + "/")
            assert page.url == f"{url}/ui/signin"
            look("01-signin")
            page.get_by_role("link", name="Sign in").click()
            page.wait_for_url(f"{standin.url}/user_management/authorize?*")
            page.get_by_label("Email").fill("ada@acme.test")
            look("02-authkit")
            page.get_by_role("button", name="Continue").click()
            page.get_by_role("heading", name="Namespaces").wait_for()
            assert page.url == f"{url}/ui/"
            assert "GET /user_management/authorize" in standin.requests
            cookies = [c for c in page.context.cookies() if c["name"] == "floww_session"]
            assert sorted(c["path"] for c in cookies) == ["/auth", "/ui"]
            assert all(c["httpOnly"] and c["sameSite"] == "Lax" for c in cookies)
            sent_to = [f"{url}/webhook/x", f"{url}/api/whoami"]
            assert not [c for c in page.context.cookies(sent_to) if c["name"] == "floww_session"]
            look("03-namespaces")

            # the organization's namespace and the deployed workflow
            page.get_by_role("link", name="acme-corp").click()
            page.get_by_role("link", name="hello").click()
            page.get_by_role("heading", name="Deployments").wait_for()
            assert page.locator("td.status", has_text="active").count() == 1
            look("04-workflow")

            # sign-out ends the WorkOS session and comes back to the sign-in page
            with page.expect_request(lambda r: "/user_management/sessions/logout" in r.url):
                page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{url}/ui/signin")
            look("05-signed-out")
            assert [s.ended for s in standin.sessions.values() if s.user_id == ada] == [True]
            assert not [c for c in page.context.cookies() if c["name"] == "floww_session"]
            page.goto(url + "/ui/")
            assert page.url == f"{url}/ui/signin"

            assert problems == [], problems
