"""Two ``floww serve`` replicas on one PostgreSQL with ``FLOWW_IDENTITY=workos``: a user's
first calls reach both at once and provision one namespace, not two; a browser session cookie
signed by one replica is good on the other (they share the cookie secret, not memory).

The WorkOS stand-in (loopback, see ``floww.testing.workos_standin``) does not cover WorkOS's
hosted pages or rate limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest

from floww.testing.workos_standin import WorkOSStandIn
from tests.integration.postgres import fresh_database
from tests.integration.serving import RunningServer, free_port, running_server

pytestmark = pytest.mark.integration

CLIENT = "client_floww"


@pytest.fixture(scope="module")
def standin() -> Iterator[WorkOSStandIn]:
    with WorkOSStandIn(clients=(CLIENT,)) as running:
        yield running


@pytest.fixture(scope="module")
def replicas(
    standin: WorkOSStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, ...]]:
    home = tmp_path_factory.mktemp("shared-home")
    with fresh_database() as url, ExitStack() as stack:
        servers = []
        for name in ("replica-a", "replica-b"):
            port = free_port()
            env = {
                "FLOWW_DATABASE_URL": url.render_as_string(hide_password=False),
                "FLOWW_IDENTITY": "workos",
                "FLOWW_WORKOS_CLIENT_ID": CLIENT,
                "FLOWW_WORKOS_API_KEY": standin.api_key,
                "FLOWW_WORKOS_BASE_URL": standin.url,
                "FLOWW_WORKOS_REDIRECT_URI": f"http://127.0.0.1:{port}/auth/callback",
                "FLOWW_WORKOS_COOKIE_PASSWORD": "r" * 32,
            }
            servers.append(stack.enter_context(running_server(home, env=env, name=name, port=port)))
        yield tuple(servers)


def test_first_calls_on_both_replicas_provision_one_namespace(
    standin: WorkOSStandIn, replicas: tuple[RunningServer, ...]
) -> None:
    org = standin.add_organization("Acme")
    users = [standin.add_user(f"u{i}@acme.test") for i in range(4)]
    for user in users:
        standin.add_membership(user, org, "member")

    def namespaces(args: tuple[RunningServer, str]) -> list[str]:
        server, user = args
        answer = httpx.get(
            f"{server.url}/api/namespaces",
            headers={"Authorization": f"Bearer {standin.access_token(user)}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return [n["id"] for n in answer.json()["items"]]

    calls = [(server, user) for user in users for server in replicas]
    with ThreadPoolExecutor(len(calls)) as pool:
        seen = list(pool.map(namespaces, calls))
    assert len({tuple(ids) for ids in seen}) == 1 and len(seen[0]) == 1


def test_a_session_cookie_from_one_replica_is_good_on_the_other(
    standin: WorkOSStandIn, replicas: tuple[RunningServer, ...]
) -> None:
    a, b = replicas
    user = standin.add_user("cy@acme.test")
    standin.add_membership(user, standin.add_organization("Cyan"), "viewer")
    standin.browser_user = user
    with httpx.Client(base_url=a.url, timeout=10) as browser:
        started = browser.get("/auth/signin")
        back = httpx.get(started.headers["location"]).headers["location"]
        assert browser.get(back, follow_redirects=False).status_code == 302
        cookie = browser.cookies.get("floww_session", path="/auth")
        assert cookie, "the callback set no session cookie for /auth"
    page = httpx.get(f"{b.url}/auth/session", cookies={"floww_session": cookie})
    assert page.status_code == 200 and "cy@acme.test" in page.text
