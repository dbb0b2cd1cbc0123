"""The ``/auth/*`` routes over a ``BrowserSignIn`` of the test's own (the WorkOS one is tested
end to end in ``tests/integration/test_workos_login.py``): cookie attributes on https, the
state check, and refused codes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from floww.domain.errors import Unauthenticated
from floww.domain.model import Principal
from floww.entrypoints.http import errors
from floww.entrypoints.http.signin import SESSION_COOKIE, STATE_COOKIE, signin_routes
from floww.ports.browser_sign_in import BrowserSession, BrowserSignIn

ADA = Principal(id="user_1", email="ada@example.test")


class OneCode(BrowserSignIn):
    """Accepts the code ``good`` once; its cookie is ``cookie-of-ada``."""

    def __init__(self) -> None:
        self.used = False

    def authorization_url(self, state: str) -> str:
        return f"https://idp.test/authorize?state={state}"

    def complete(self, code: str) -> BrowserSession:
        if code != "good" or self.used:
            raise Unauthenticated("the identity provider refused the code")
        self.used = True
        return BrowserSession(ADA, "cookie-of-ada", 600)

    def principal(self, cookie: str) -> Principal:
        if cookie != "cookie-of-ada":
            raise Unauthenticated("not signed in")
        return ADA

    def sign_out_url(self, cookie: str | None, return_to: str) -> str:
        return f"https://idp.test/logout?return_to={return_to}"


def _client(base_url: str) -> TestClient:
    app = Starlette(
        routes=signin_routes(OneCode(), base_url=base_url),
        exception_handlers=dict(errors.EXCEPTION_HANDLERS),
    )
    return TestClient(app, base_url=base_url, follow_redirects=False)


def test_cookies_are_secure_httponly_and_lax_over_https() -> None:
    client = _client("https://floww.test")
    started = client.get("/auth/signin")
    state = started.headers["location"].rsplit("state=", 1)[1]
    cookie = started.headers["set-cookie"].lower()
    assert all(flag in cookie for flag in ("httponly", "secure", "samesite=lax", "path=/auth"))

    done = client.get(f"/auth/callback?code=good&state={state}")
    assert (done.status_code, done.headers["location"]) == (302, "/auth/session")
    sessions = [c for c in done.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert sorted(_path(c) for c in sessions) == ["/auth", "/ui"]  # never /api nor /webhook
    for session in sessions:
        assert session.startswith(f"{SESSION_COOKIE}=cookie-of-ada;")
        assert all(flag in session.lower() for flag in ("httponly", "secure", "samesite=lax"))
    assert "ada@example.test" in client.get("/auth/session").text


def _path(set_cookie: str) -> str:
    return next(p.split("=", 1)[1] for p in set_cookie.split("; ") if p.lower().startswith("path="))


def _signed_in_then(client: TestClient, start: str) -> str:
    state = client.get(start).headers["location"].rsplit("state=", 1)[1]
    done = client.get(f"/auth/callback?code=good&state={state}")
    assert done.status_code == 302, done.text
    return str(done.headers["location"])


def test_the_callback_goes_on_to_a_dashboard_page_and_never_to_another_site() -> None:
    assert _signed_in_then(_client("http://floww.test"), "/auth/signin?next=/ui/") == "/ui/"
    for elsewhere in ("https://evil.test/ui/", "//evil.test/ui/", "/ui//evil.test", "/api/x"):
        then = _signed_in_then(_client("http://floww.test"), f"/auth/signin?next={elsewhere}")
        assert then == "/auth/session", elsewhere


def test_a_callback_without_its_state_or_with_a_refused_code_signs_nobody_in() -> None:
    client = _client("http://floww.test")
    assert client.get("/auth/callback?code=good&state=x").status_code == 400
    client.cookies.set(STATE_COOKIE, "s1", path="/auth")
    assert client.get("/auth/callback?code=good&state=s2").status_code == 400
    assert client.get("/auth/callback?error=access_denied&state=s1").status_code == 400
    refused = client.get("/auth/callback?code=bad&state=s1")
    assert refused.status_code == 401
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert client.get("/auth/session").status_code == 401


def test_sign_out_clears_the_cookie_and_goes_to_the_provider() -> None:
    client = _client("http://floww.test")
    client.cookies.set(SESSION_COOKIE, "cookie-of-ada")
    out = client.get("/auth/signout")
    assert out.status_code == 303
    assert out.headers["location"] == "https://idp.test/logout?return_to=http://floww.test/"
    cleared = [c for c in out.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert sorted(_path(c) for c in cleared) == ["/auth", "/ui"]
    assert all(c.startswith(f'{SESSION_COOKIE}="";') for c in cleared)
