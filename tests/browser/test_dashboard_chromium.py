"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright)
against a real ``floww serve`` with a workflow deployed by the real CLI: sign in, watch an
execution appear live after a webhook, read its logs, roll back a deployment, and set up a
provider whose secrets never appear in any page. No page may log a console error.

Screenshots go to ``$FLOWW_TEST_ARTIFACTS/dashboard`` (or the test's tmp dir) and are kept.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright import sync_api

from tests.integration.lifecycle import (
    client_env,
    deploy,
    make_project,
    server_env,
    webhook_url,
)
from tests.integration.serving import running_server

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SECRET = "xoxb-never-shown-4f1d2c"
SIGNING = "signing-never-shown-9e8d"
TIMEOUT_MS = 15_000


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    base = os.environ.get("FLOWW_TEST_ARTIFACTS")
    folder = (Path(base) if base else tmp_path / "artifacts") / "dashboard"
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


def test_dashboard_in_chromium(tmp_path: Path, browser: object, artifacts: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with running_server(home, env=server_env()) as server:
        cli = client_env(server, tmp_path)
        project = make_project(tmp_path, "hello", cli)
        first = deploy(cli, project)
        main = project.path / "main.py"
        main.write_text(main.read_text().replace('f"hi {name}"', 'f"v2 says hi {name}"'))
        deploy(cli, project)
        hook = webhook_url(first, "/hello/").replace("{name}", "ada")

        page = browser.new_page()  # type: ignore[attr-defined]
        page.set_default_timeout(TIMEOUT_MS)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        seen: list[str] = []

        def look(name: str) -> None:
            seen.append(page.content())
            page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

        # sign in
        page.goto(server.url + "/")
        assert page.url.endswith("/ui/signin")
        page.get_by_label("Email").fill("admin@localhost")
        page.get_by_label("Password").fill(server.admin_password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Namespaces").wait_for()
        cookie = next(c for c in page.context.cookies() if c["name"] == "floww_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
        look("01-namespaces")

        # the workflow: an execution appears live after a webhook, without a reload
        page.get_by_role("link", name="default").click()
        page.get_by_role("link", name="hello").click()
        page.get_by_role("heading", name="Deployments").wait_for()
        assert page.locator("#executions tr").count() == 0
        look("02-workflow-before")
        answer = httpx.post(hook, timeout=60)
        assert answer.json() == {"message": "v2 says hi ada"}
        row = page.locator("#executions tr[data-status=completed]")
        row.first.wait_for()
        assert row.count() == 1
        look("03-workflow-live")

        # the execution's detail with its logs
        row.first.get_by_role("link").click()
        page.get_by_role("heading", name="Logs").wait_for()
        assert "saying hi to ada" in page.locator("ol.logs").inner_text()
        assert "/ui/executions/" in page.url
        look("04-execution")

        # roll back to the first deployment: the earlier code answers at once
        page.go_back()
        page.get_by_role("button", name="Roll back to this").click()
        page.get_by_text("The deployment is active again.").wait_for()
        active = page.locator(f"tr[data-deployment='{first['deployment_id']}'] td.status")
        assert active.inner_text() == "active"
        look("05-rolled-back")
        assert httpx.post(hook, timeout=60).json() == {"message": "hi ada"}

        # a provider set up with hidden secret input; the secrets never come back
        page.get_by_role("link", name="default").click()
        page.get_by_role("link", name="Providers").click()
        page.get_by_label("Type").select_option("slack")
        page.get_by_role("button", name="Continue").click()
        bot_token = page.get_by_label("Bot token")
        assert bot_token.get_attribute("type") == "password"
        bot_token.fill(SECRET)
        page.get_by_label("Signing secret").fill(SIGNING)
        look("06-provider-form")
        page.get_by_role("button", name="Save").click()
        page.get_by_text("The provider is saved.").wait_for()
        assert "slack" in page.locator("table").inner_text()
        look("07-providers")
        page.reload()
        look("08-providers-reloaded")

        for html in seen:
            assert SECRET not in html and SIGNING not in html
        assert problems == [], problems
        assert sorted(p.name for p in artifacts.glob("*.png"))[0] == "01-namespaces.png"
