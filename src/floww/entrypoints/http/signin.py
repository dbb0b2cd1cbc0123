"""Browser sign-in for the dashboard and admin pages, through the identity provider
(``BrowserSignIn``; AuthKit with WorkOS):

- ``GET /auth/signin[?next=/ui/...]`` sends the browser to the provider with a fresh
  ``state``, kept (with ``next``) in short-lived HttpOnly cookies;
- ``GET /auth/callback`` checks that ``state`` (a callback this browser did not start is
  refused with 400), trades the ``code`` for a session, sets the session cookie and goes on
  to ``next`` (a dashboard page; ``/auth/session`` otherwise). The cookie is HttpOnly,
  ``SameSite=Lax`` (the provider's redirect is a top-level navigation), ``Secure`` when the
  server is reached over https, signed by the server, and set twice with the same value:
  ``Path=/ui`` (the dashboard's session, see ``dashboard.session``) and ``Path=/auth`` (for
  ``/auth/session`` and sign-out), so the browser never sends it to ``/api`` or ``/webhook``;
- ``GET /auth/session`` shows who is signed in (401 without a valid cookie);
- ``GET`` or ``POST /auth/signout`` clears the cookie and sends the browser to the provider
  to end its session there too (the dashboard's ``/ui/signout`` does the same).
"""

from __future__ import annotations

import hmac
import html
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from floww.domain.errors import InvalidInput
from floww.entrypoints.http.dashboard import session as dashboard_session
from floww.ports.browser_sign_in import BrowserSignIn

__all__ = ["NEXT_COOKIE", "SESSION_COOKIE", "STATE_COOKIE", "signin_routes"]

SESSION_COOKIE = dashboard_session.COOKIE
STATE_COOKIE = "floww_signin_state"
NEXT_COOKIE = "floww_signin_next"
_PATH = dashboard_session.HOSTED_PATH
_STATE_TTL = 600
_DEFAULT_NEXT = "/auth/session"


def _next(wanted: str) -> str:
    """``wanted`` when it is a page of the dashboard on this server, else ``/auth/session``
    (never another site: ``//host`` and ``/\\host`` are refused)."""
    plain = wanted.isascii() and wanted.isprintable() and "\\" not in wanted
    if plain and wanted.startswith("/ui/") and "//" not in wanted:
        return wanted
    return _DEFAULT_NEXT


def signin_routes(sign_in: BrowserSignIn, *, base_url: str) -> list[BaseRoute]:
    """The ``/auth/*`` routes over ``sign_in``; ``base_url`` is where sign-out returns to."""
    secure = base_url.startswith("https://")

    async def start(request: Request) -> Response:
        state = secrets.token_urlsafe(24)
        url = await run_in_threadpool(sign_in.authorization_url, state)
        response = RedirectResponse(url, status_code=302)
        for name, value in (
            (STATE_COOKIE, state),
            (NEXT_COOKIE, _next(request.query_params.get("next", ""))),
        ):
            response.set_cookie(
                name,
                value,
                max_age=_STATE_TTL,
                path=_PATH,
                httponly=True,
                samesite="lax",
                secure=secure,
            )
        return response

    async def callback(request: Request) -> Response:
        state = request.query_params.get("state", "")
        expected = request.cookies.get(STATE_COOKIE, "")
        if not state or not expected or not hmac.compare_digest(state, expected):
            raise InvalidInput(
                "this sign-in was not started here (or took too long); sign in again"
            )
        error = request.query_params.get("error")
        if error:
            raise InvalidInput(f"the sign-in was not completed ({error}); sign in again")
        session = await run_in_threadpool(sign_in.complete, request.query_params.get("code", ""))
        then = _next(request.cookies.get(NEXT_COOKIE, ""))
        response = RedirectResponse(then, status_code=302)
        response.delete_cookie(STATE_COOKIE, path=_PATH)
        response.delete_cookie(NEXT_COOKIE, path=_PATH)
        response.set_cookie(
            SESSION_COOKIE,
            session.cookie,
            max_age=session.max_age,
            path=_PATH,
            httponly=True,
            samesite="lax",
            secure=secure,
        )
        dashboard_session.set_session(
            response, session.cookie, secure=secure, max_age=session.max_age, samesite="lax"
        )
        return response

    async def show(request: Request) -> Response:
        principal = sign_in.principal(request.cookies.get(SESSION_COOKIE, ""))
        who = html.escape(principal.email or principal.id)
        return HTMLResponse(
            "<!doctype html><title>floww</title>"
            f"<p>Signed in as <b>{who}</b>.</p>"
            "<form method=post action=/auth/signout><button>Sign out</button></form>"
        )

    async def sign_out(request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        url = await run_in_threadpool(sign_in.sign_out_url, cookie, f"{base_url}/")
        response = RedirectResponse(url, status_code=303)
        dashboard_session.clear_session(response, secure=secure)
        return response

    return [
        Route("/auth/signin", start, methods=["GET"]),
        Route("/auth/callback", callback, methods=["GET"]),
        Route("/auth/session", show, methods=["GET"]),
        Route("/auth/signout", sign_out, methods=["GET", "POST"]),
    ]
