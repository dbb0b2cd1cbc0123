"""The device approval page at ``/device``: a plain HTML form where a user signs in with email
and password and approves (or denies) the code a CLI shows.

Forms carry a one-time token handed out when the page is rendered, and a cross-origin POST is
refused; the page cannot be framed and runs no script.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
import urllib.parse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from floww.domain.errors import Conflict, FlowwError, NotFound, RateLimited, Unauthenticated
from floww.entrypoints.http.codec import ApiRoute, Doc, read_body, services
from floww.entrypoints.http.errors import retry_after

__all__ = ["ROUTES", "FormTokens"]

_FORM_LIMIT = 16_384
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
_STYLE = (
    "body{font-family:sans-serif;max-width:28rem;margin:3rem auto}"
    "label{display:block;margin:.6rem 0}"
)


class FormTokens:
    """One-time form tokens that expire; at most ``capacity`` are outstanding."""

    def __init__(self, ttl_seconds: float = 900, capacity: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._capacity = capacity
        self._lock = threading.Lock()
        self._issued: dict[str, float] = {}

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            if len(self._issued) >= self._capacity:
                self._issued = {t: at for t, at in self._issued.items() if now - at < self._ttl}
                while len(self._issued) >= self._capacity:
                    self._issued.pop(next(iter(self._issued)))
            self._issued[token] = now
        return token

    def consume(self, token: str) -> bool:
        with self._lock:
            issued = self._issued.pop(token, None)
        return issued is not None and time.monotonic() - issued < self._ttl


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status, headers=_HEADERS)


def _tokens(request: Request) -> FormTokens:
    tokens: FormTokens = request.app.state.form_tokens
    return tokens


def _form(request: Request, user_code: str, note: str = "", status: int = 200) -> HTMLResponse:
    if services(request).password_login is None:
        return _page(
            "Approve a device",
            "<p>This server signs you in through its identity provider; open the link your "
            "command line printed there.</p>",
            status,
        )
    token = _tokens(request).issue()
    notice = f"<p role=alert>{html.escape(note)}</p>" if note else ""
    body = (
        f"{notice}<p>Check that the code matches the one your command line shows.</p>"
        "<form method=post action=/device>"
        f"<input type=hidden name=form_token value='{html.escape(token, quote=True)}'>"
        "<label>Code <input name=user_code required autocomplete=off "
        f"value='{html.escape(user_code, quote=True)}'></label>"
        "<label>Email <input name=email type=email required autocomplete=username></label>"
        "<label>Password <input name=password type=password required "
        "autocomplete=current-password></label>"
        "<button name=decision value=approve>Approve</button> "
        "<button name=decision value=deny>Deny</button></form>"
    )
    return _page("Approve a device", body, status)


async def show(request: Request) -> Response:
    return _form(request, request.query_params.get("user_code", "")[:64])


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urllib.parse.urlsplit(origin).netloc == request.headers.get("host", "")


async def submit(request: Request) -> Response:
    login = services(request).password_login
    if login is None:
        return _form(request, "", status=404)
    try:
        raw = await read_body(request, _FORM_LIMIT)
        form = dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    except (FlowwError, UnicodeDecodeError):
        return _page("Approve a device", "<p>That form could not be read.</p>", 400)
    user_code = form.get("user_code", "")[:64]
    if not _same_origin(request) or not _tokens(request).consume(form.get("form_token", "")):
        return _form(request, user_code, "The form expired; please try again.", 403)
    decision = form.get("decision", "approve")
    auth = services(request).deps.identity
    guard = services(request).guard
    email = form.get("email", "")
    try:
        if guard is not None:
            guard.admit_login(request, email)
        user = await run_in_threadpool(login, email, form.get("password", ""))
    except RateLimited as exc:
        page = _form(request, user_code, "Too many failed sign-ins: wait, then try again.", 429)
        page.headers["Retry-After"] = retry_after(exc)
        return page
    except Unauthenticated:  # admitted attempts count as failed until they succeed
        return _form(request, user_code, "Wrong email or password.", 401)
    except FlowwError as exc:
        return _form(request, user_code, exc.message, 400)
    if guard is not None:
        guard.login_succeeded(request, email)
    try:
        if decision == "deny":
            await run_in_threadpool(auth.deny_device, user_code)
        else:
            await run_in_threadpool(auth.approve_device, user_code, user)
    except NotFound:
        return _form(request, "", "That code is unknown or has expired.", 404)
    except Conflict:
        return _page("Approve a device", "<p>That code was already used.</p>", 409)
    except FlowwError as exc:
        return _form(request, user_code, exc.message, 400)
    if decision == "deny":
        return _page("Device denied", "<p>The device was not signed in. You can close this.</p>")
    return _page(
        "Device approved",
        "<p>Your command line is now signed in. You can close this page.</p>",
    )


_PAGE_DOC = {"type": "string", "contentMediaType": "text/html"}

ROUTES = [
    ApiRoute(
        "/device",
        show,
        methods=["GET"],
        doc=Doc("Device approval page (HTML)", response=_PAGE_DOC, auth=False, tag="auth"),
    ),
    ApiRoute(
        "/device",
        submit,
        methods=["POST"],
        doc=Doc(
            "Approve or deny a device (HTML form post)",
            body={"type": "object"},
            response=_PAGE_DOC,
            auth=False,
            tag="auth",
        ),
    ),
]
