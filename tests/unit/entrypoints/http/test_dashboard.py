"""The dashboard's edge over the in-memory adapters: sign-in and its cookie, CSRF and origin
checks on every form, tenants seeing only their own, and provider secrets never echoed.
(The same pages in a real browser against a real server: tests/browser.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import attrs
import pytest
from conftest import PASSWORD, World, make_world
from starlette.testclient import TestClient

from floww.adapters.memory import InMemoryIdentity
from floww.domain.errors import Unauthenticated
from floww.domain.model import Principal
from floww.entrypoints.http.app import create_app
from floww.entrypoints.http.dashboard import PasswordSignIn, dashboard_routes

SECRET = "xoxb-typed-secret-31337"


@attrs.define
class Site:
    world: World
    browser: TestClient


def _password_check(auth: InMemoryIdentity) -> Callable[[str, str], Principal]:
    def check(email: str, password: str) -> Principal:
        if password != PASSWORD:
            raise Unauthenticated("wrong email or password")
        return auth.create_user(email)

    return check


@pytest.fixture
def site() -> Iterator[Site]:
    for world in make_world():
        check = _password_check(world.auth)
        services = world.client.app.state.services  # type: ignore[attr-defined]
        routes = dashboard_routes(PasswordSignIn(check, world.auth.issue_token))
        app = create_app(attrs.evolve(services, extra_routes=[*services.extra_routes, *routes]))
        yield Site(world, TestClient(app, raise_server_exceptions=False))


def _sign_in(client: TestClient, email: str) -> None:
    answer = client.post(
        "/ui/signin", data={"email": email, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def _csrf(client: TestClient, path: str = "/ui/") -> str:
    found = re.search(r"name=csrf value='([0-9a-f]+)'", client.get(path).text)
    assert found
    return found.group(1)


def test_without_a_session_every_page_leads_to_sign_in(site: Site) -> None:
    assert site.browser.get("/", follow_redirects=False).headers["location"] == "/ui/"
    for path in ("/ui/", "/ui/namespaces/x", "/ui/workflows/x", "/ui/executions/x"):
        answer = site.browser.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/ui/signin")


def test_sign_in_sets_a_strict_httponly_cookie_scoped_to_the_dashboard(site: Site) -> None:
    wrong = site.browser.post("/ui/signin", data={"email": "ada@example.com", "password": "nope"})
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    answer = site.browser.post(
        "/ui/signin",
        data={"email": "ada@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
    page = site.browser.get("/ui/")
    assert page.status_code == 200 and "Namespaces" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_forms_need_the_session_token_and_this_origin(site: Site) -> None:
    a = site.world.tenant("ada@example.com", "ada")
    _sign_in(site.browser, "ada@example.com")
    base = f"/ui/namespaces/{a.namespace_id}/providers"
    fields = {
        "type": "slack",
        "alias": "default",
        "field.bot_token": "t",
        "field.signing_secret": "s",
    }
    assert site.browser.post(base, data=fields).status_code == 403
    assert site.browser.post(base, data=fields | {"csrf": "0" * 64}).status_code == 403
    csrf = _csrf(site.browser)
    foreign = site.browser.post(
        base, data=fields | {"csrf": csrf}, headers={"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert site.world.repo.list_providers(a.namespace_id) == []  # nothing was stored
    assert site.browser.post(base, data=fields | {"csrf": csrf}).status_code == 200
    assert [p.type for p in site.world.repo.list_providers(a.namespace_id)] == ["slack"]


def test_a_tenant_sees_only_its_own(site: Site) -> None:
    a = site.world.tenant("ada@example.com", "ada")
    b = site.world.tenant("bob@example.com", "bob")
    deployed = site.world.deploy_hello(b)
    _sign_in(site.browser, "ada@example.com")
    csrf = _csrf(site.browser)
    assert "bob" not in site.browser.get("/ui/").text
    for path in (
        f"/ui/namespaces/{b.namespace_id}",
        f"/ui/namespaces/{b.namespace_id}/providers",
        f"/ui/namespaces/{b.namespace_id}/api-keys",
        f"/ui/namespaces/{b.namespace_id}/executions/rows",
        f"/ui/workflows/{b.workflow_id}",
        f"/ui/workflows/{b.workflow_id}/executions/rows",
    ):
        assert site.browser.get(path).status_code == 404, path
    rollback = f"/ui/workflows/{b.workflow_id}/deployments/{deployed['deployment']['id']}/activate"
    assert site.browser.post(rollback, data={"csrf": csrf}).status_code == 404
    assert site.browser.get(f"/ui/workflows/{a.workflow_id}").status_code == 200


def test_provider_secrets_are_never_sent_back(site: Site) -> None:
    a = site.world.tenant("ada@example.com", "ada")
    _sign_in(site.browser, "ada@example.com")
    csrf = _csrf(site.browser)
    base = f"/ui/namespaces/{a.namespace_id}/providers"
    form = site.browser.get(f"{base}/new", params={"type": "slack", "alias": "default"}).text
    assert "name='field.bot_token' type=password" in form
    refused = site.browser.post(
        base, data={"csrf": csrf, "type": "slack", "alias": "default", "field.bot_token": SECRET}
    )
    assert refused.status_code == 400 and SECRET not in refused.text
    saved = site.browser.post(
        base,
        data={
            "csrf": csrf,
            "type": "slack",
            "alias": "default",
            "field.bot_token": SECRET,
            "field.signing_secret": SECRET + "-signing",
        },
    )
    assert saved.status_code == 200 and "The provider is saved." in saved.text
    assert SECRET not in saved.text and "********" in saved.text


def test_an_execution_page_runs_it_again_and_refuses_other_tenants(site: Site) -> None:
    a = site.world.tenant("ada@example.com", "ada")
    b = site.world.tenant("bob@example.com", "bob")
    site.world.deploy_hello(a)
    site.world.deploy_hello(b)
    ran = site.world.client.post(
        f"/api/workflows/{a.workflow_id}/manual/greet",
        json={"input": {"name": "ada"}},
        headers=a.headers,
    ).json()
    theirs = site.world.client.post(
        f"/api/workflows/{b.workflow_id}/manual/greet", json={}, headers=b.headers
    ).json()
    _sign_in(site.browser, "ada@example.com")
    csrf = _csrf(site.browser)
    page = site.browser.get(f"/ui/executions/{ran['id']}")
    assert page.status_code == 200 and "hello, ada" in page.text
    again = site.browser.post(f"/ui/executions/{ran['id']}/rerun", data={"csrf": csrf})
    assert again.status_code == 200 and str(again.url).split("/")[-1] != ran["id"]
    assert f"rerun of {ran['id']}" in again.text
    for action in ("rerun", "cancel"):
        refused = site.browser.post(f"/ui/executions/{theirs['id']}/{action}", data={"csrf": csrf})
        assert refused.status_code == 404, action
    assert site.browser.get(f"/ui/executions/{theirs['id']}").status_code == 404
    finished = site.browser.post(f"/ui/executions/{ran['id']}/cancel", data={"csrf": csrf})
    assert finished.status_code == 409 and "already finished" in finished.text
