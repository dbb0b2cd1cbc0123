"""What every dashboard page shares: the response headers, the signed-in context, and
``signed_in``, which wraps a page so that a request without a valid session goes to the sign-in
page, a POST without its session's form token (or from another origin) is refused with 403
before anything runs, and a domain error becomes a page with the API's status."""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from floww.domain.errors import FlowwError, Unauthenticated
from floww.domain.model import Principal
from floww.domain.usecases.authentication import authenticate
from floww.domain.usecases.deps import ServerDeps
from floww.entrypoints.http.codec import read_body, services
from floww.entrypoints.http.dashboard import session, views
from floww.entrypoints.http.dashboard.signin import BrowserSignIn
from floww.entrypoints.http.errors import status_for

__all__ = ["NOTICES", "Ctx", "View", "page", "read_form", "secure", "see", "signed_in"]

_FORM_LIMIT = 65_536
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}
NOTICES = {"rolled-back": "The deployment is active again.", "saved": "The provider is saved."}


@attrs.frozen
class Ctx:
    deps: ServerDeps
    principal: Principal
    csrf: str


View = Callable[[Request, Ctx], Awaitable[Response]]


def page(document: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(document, status, headers=_HEADERS)


def see(url: str) -> RedirectResponse:
    return RedirectResponse(url, 303, headers={"Cache-Control": "no-store"})


async def read_form(request: Request) -> dict[str, str]:
    raw = await read_body(request, _FORM_LIMIT)
    try:
        return dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def _session_user(sign_in: BrowserSignIn, token: str, deps: ServerDeps) -> Principal:
    own = sign_in.principal(token)
    if own is not None:
        return own
    return authenticate(token, identity=deps.identity, tokens=deps.tokens)


def signed_in(
    view: View, sign_in: BrowserSignIn, *, post: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """Signed-in pages: the session is checked (``sign_in``'s own, else as a bearer token;
    sign-in page otherwise), POSTs need the session's form token and this origin, domain
    errors become pages."""

    async def endpoint(request: Request) -> Response:
        deps = services(request).deps
        token = session.session_token(request)
        try:
            if token is None:
                raise Unauthenticated("no session")
            principal = await run_in_threadpool(_session_user, sign_in, token, deps)
            if principal.kind != "user":
                raise Unauthenticated("the dashboard is for people")
        except Unauthenticated:
            return see("/ui/signin")
        except FlowwError as exc:  # the identity provider unavailable, say
            return page(views.signin_page(exc.message, sign_in.start_url), status_for(exc))
        ctx = Ctx(deps, principal, session.csrf_token(token))
        if post:
            form = await read_form(request)
            if not session.same_origin(request) or not session.valid_csrf(
                token, form.get("csrf", "")
            ):
                text = "The form expired or came from another site; reload the page and try again."
                return page(views.message_page("Refused", text, ctx.csrf), 403)
            request.state.form = form
        try:
            return await view(request, ctx)
        except FlowwError as exc:
            return page(
                views.message_page("Something went wrong", exc.message, ctx.csrf), status_for(exc)
            )

    return endpoint


def secure(request: Request) -> bool:
    return services(request).deps.settings.base_url.startswith("https://")
