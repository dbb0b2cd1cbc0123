"""The dashboard signed in through WorkOS AuthKit (``HostedSignIn`` over the real
``WorkOSBrowserSignIn``), over the in-memory adapters and the WorkOS stand-in (a loopback server
implementing WorkOS's documented endpoints): the sign-in page leads to AuthKit and the callback
opens the dashboard with the organization's namespace; forged, expired and foreign cookies are
refused; every form still needs its CSRF token; a viewer cannot write; sign-out ends the WorkOS
session. (The same in a real browser against a real server: tests/browser.)

The stand-in does not cover AuthKit's hosted pages: its authorize endpoint signs in
``browser_user`` at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import attrs
import httpx
import jwt
import pytest
from conftest import World, make_world
from starlette.testclient import TestClient

from floww.adapters.inprocess.clock import SystemClock
from floww.adapters.workos import (
    WorkOSBrowserSignIn,
    WorkOSDirectory,
    WorkOSIdentity,
    WorkOSTokenVerifier,
)
from floww.domain.usecases.provisioning import sync_memberships
from floww.entrypoints.http.app import create_app
from floww.entrypoints.http.dashboard import HostedSignIn, dashboard_routes
from floww.entrypoints.http.signin import signin_routes
from floww.testing.workos_standin import WorkOSStandIn

CLIENT = "client_floww"
COOKIE_SECRET = "c" * 40
BASE = "http://testserver"


@attrs.define
class Site:
    world: World
    standin: WorkOSStandIn
    org: str
    browser: TestClient


def _browser(world: World, standin: WorkOSStandIn) -> TestClient:
    """The world's app with the dashboard and ``/auth/*`` over WorkOS, as bootstrap wires them."""
    identity = WorkOSIdentity(
        WorkOSTokenVerifier(standin.url, CLIENT),
        WorkOSDirectory(api_key=standin.api_key, client_id=CLIENT, base_url=standin.url),
        lambda user, orgs: sync_memberships(world.repo, SystemClock(), user, orgs),
    )
    sign_in = WorkOSBrowserSignIn(
        identity, redirect_uri=f"{BASE}/auth/callback", cookie_secret=COOKIE_SECRET
    )
    hosted = HostedSignIn(sign_in, lambda user: identity.provisioned(user.id))
    routes = [*dashboard_routes(hosted), *signin_routes(sign_in, base_url=BASE)]
    services = world.client.app.state.services  # type: ignore[attr-defined]
    app = create_app(attrs.evolve(services, extra_routes=[*services.extra_routes, *routes]))
    return TestClient(app, base_url=BASE, raise_server_exceptions=False)


@pytest.fixture
def site() -> Iterator[Site]:
    with WorkOSStandIn(clients=(CLIENT,)) as standin:
        org = standin.add_organization("Acme Corp")
        for world in make_world():
            yield Site(world, standin, org, _browser(world, standin))


def _person(site: Site, email: str, role: str) -> str:
    user = site.standin.add_user(email)
    site.standin.add_membership(user, site.org, role)
    return user


def _sign_in(site: Site, user: str) -> None:
    """What a browser does: the dashboard's sign-in link, AuthKit, the callback, the dashboard."""
    site.standin.browser_user = user
    page = site.browser.get("/ui/signin")
    link = re.search(r"href='([^']+)'>Sign in", page.text)
    assert link and link.group(1) == "/auth/signin?next=/ui/"
    to_authkit = site.browser.get(link.group(1).replace("&amp;", "&"), follow_redirects=False)
    assert to_authkit.headers["location"].startswith(f"{site.standin.url}/user_management/")
    back = httpx.get(to_authkit.headers["location"], follow_redirects=False).headers["location"]
    done = site.browser.get(back, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (302, "/ui/"), done.text


def _csrf(client: TestClient, path: str = "/ui/") -> str:
    found = re.search(r"name=csrf value='([0-9a-f]+)'", client.get(path).text)
    assert found
    return found.group(1)


def _namespace_id(site: Site) -> str:
    found = re.search(r"href='/ui/namespaces/([^']+)'>acme-corp<", site.browser.get("/ui/").text)
    assert found
    return found.group(1)


def test_authkit_opens_the_dashboard_on_the_organizations_namespace(site: Site) -> None:
    _sign_in(site, _person(site, "ada@acme.test", "admin"))
    home = site.browser.get("/ui/")
    assert home.status_code == 200 and "acme-corp" in home.text
    # the password form is not offered: a post to it is refused with a sentence
    refused = site.browser.post("/ui/signin", data={"email": "ada@acme.test", "password": "x"})
    assert refused.status_code == 400 and "Sign in button" in refused.text


def _cookie(secret: str, user: str, *, expires_in: int) -> str:
    now = int(time.time())
    claims = {"typ": "floww-browser", "sub": user, "iat": now, "exp": now + expires_in}
    return jwt.encode(claims, secret, algorithm="HS256")


def test_forged_expired_and_foreign_cookies_are_refused(site: Site) -> None:
    ada = _person(site, "ada@acme.test", "admin")
    good = _cookie(COOKIE_SECRET, ada, expires_in=600)
    for cookie in (
        _cookie("f" * 40, ada, expires_in=600),  # forged: another key
        _cookie(COOKIE_SECRET, ada, expires_in=-60),  # expired
        site.standin.access_token(ada),  # a WorkOS access token is not a dashboard session
        good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),  # tampered
    ):
        site.browser.cookies.clear()
        site.browser.cookies.set("floww_session", cookie, path="/ui")
        answer = site.browser.get("/ui/", follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/ui/signin")
    site.browser.cookies.clear()
    site.browser.cookies.set("floww_session", good, path="/ui")
    assert site.browser.get("/ui/", follow_redirects=False).status_code == 200


def test_forms_still_need_their_csrf_token_and_a_viewer_cannot_write(site: Site) -> None:
    fields = {
        "type": "slack",
        "alias": "default",
        "field.bot_token": "t",
        "field.signing_secret": "s",
    }
    _sign_in(site, _person(site, "cy@acme.test", "viewer"))
    ns = _namespace_id(site)
    path = f"/ui/namespaces/{ns}/providers"
    viewer_csrf = _csrf(site.browser)
    assert site.browser.post(path, data=fields).status_code == 403
    assert site.browser.post(path, data=fields | {"csrf": viewer_csrf}).status_code == 403
    assert site.world.repo.list_providers(ns) == []

    site.browser.cookies.clear()
    _sign_in(site, _person(site, "ada@acme.test", "admin"))
    assert site.browser.post(path, data=fields).status_code == 403
    assert site.browser.post(path, data=fields | {"csrf": viewer_csrf}).status_code == 403
    assert site.world.repo.list_providers(ns) == []
    saved = site.browser.post(path, data=fields | {"csrf": _csrf(site.browser)})
    assert saved.status_code == 200
    assert [p.type for p in site.world.repo.list_providers(ns)] == ["slack"]


def test_sign_out_needs_csrf_and_ends_the_workos_session(site: Site) -> None:
    ada = _person(site, "ada@acme.test", "admin")
    _sign_in(site, ada)
    assert site.browser.post("/ui/signout", follow_redirects=False).status_code == 403
    out = site.browser.post(
        "/ui/signout", data={"csrf": _csrf(site.browser)}, follow_redirects=False
    )
    # a page that goes on to WorkOS (a form may only lead to this site: form-action 'self')
    assert out.status_code == 200
    found = re.search(r"http-equiv=refresh content='0;url=([^']+)'", out.text)
    assert found
    logout = found.group(1).replace("&amp;", "&")
    assert logout.startswith(f"{site.standin.url}/user_management/sessions/logout?session_id=")
    cleared = [c for c in out.headers.get_list("set-cookie") if c.startswith("floww_session=")]
    assert len(cleared) == 2 and all(c.startswith('floww_session="";') for c in cleared)
    answer = site.browser.get("/ui/", follow_redirects=False)
    assert answer.headers["location"] == "/ui/signin"
    ended = httpx.get(logout, follow_redirects=False)
    back = f"{site.world.deps.settings.base_url}/ui/signin"  # the server's configured URL
    assert (ended.status_code, ended.headers["location"]) == (302, back)
    assert all(s.ended for s in site.standin.sessions.values() if s.user_id == ada)


def test_workos_down_gives_a_page_with_a_sentence_and_a_deleted_user_is_refused(
    site: Site,
) -> None:
    ada = _person(site, "ada@acme.test", "admin")  # never seen by this server yet
    site.browser.cookies.set(
        "floww_session", _cookie(COOKIE_SECRET, ada, expires_in=600), path="/ui"
    )
    site.standin.fail_with = 503
    try:
        down = site.browser.get("/ui/", follow_redirects=False)
    finally:
        site.standin.fail_with = None
    assert down.status_code == 503 and "WorkOS" in down.text and "Traceback" not in down.text
    assert "/auth/signin?next=/ui/" in down.text
    assert site.browser.get("/ui/", follow_redirects=False).status_code == 200

    gone = _person(site, "gone@acme.test", "admin")
    del site.standin.users[gone]
    site.browser.cookies.clear()
    site.browser.cookies.set(
        "floww_session", _cookie(COOKIE_SECRET, gone, expires_in=600), path="/ui"
    )
    refused = site.browser.get("/ui/", follow_redirects=False)
    assert (refused.status_code, refused.headers["location"]) == (303, "/ui/signin")
