"""The dashboard's session cookie and its form protection.

- The session is one cookie, ``floww_session``: HttpOnly, ``SameSite=Strict``, ``Path=/ui``
  (so the browser never sends it with API or webhook requests), ``Secure`` when the server is
  reached over HTTPS. It holds a user access token that is checked on every request, so a
  session survives a restart of the server and ends when the token expires. With a hosted
  sign-in (WorkOS AuthKit) the cookie holds the provider's signed session cookie instead, set
  by the callback with ``SameSite=Lax`` (it is set on the provider's cross-site redirect back)
  next to a copy at ``Path=/auth`` for sign-out; signing out clears both.
- Every form carries a CSRF token derived from the session token (a keyed hash); a POST must
  carry the token of its session and come from this origin (``Origin`` header, when sent).
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "COOKIE",
    "HOSTED_PATH",
    "PATH",
    "clear_session",
    "csrf_token",
    "same_origin",
    "session_token",
    "set_session",
    "valid_csrf",
]

COOKIE = "floww_session"
PATH = "/ui"
HOSTED_PATH = "/auth"


def session_token(request: Request) -> str | None:
    token = request.cookies.get(COOKIE, "")
    return token or None


def set_session(
    response: Response,
    token: str,
    *,
    secure: bool,
    max_age: int,
    samesite: Literal["strict", "lax"] = "strict",
) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        path=PATH,
        secure=secure,
        httponly=True,
        samesite=samesite,
    )


def clear_session(response: Response, *, secure: bool) -> None:
    """Drops the session cookie, and a hosted sign-in's copy at ``/auth``."""
    for path in (PATH, HOSTED_PATH):
        response.delete_cookie(COOKIE, path=path, secure=secure, httponly=True, samesite="lax")


def csrf_token(session: str) -> str:
    """The form token of ``session``: knowing it tells nothing about the session token."""
    return hmac.new(session.encode(), b"floww-dashboard-csrf", hashlib.sha256).hexdigest()


def valid_csrf(session: str | None, given: str) -> bool:
    return session is not None and hmac.compare_digest(csrf_token(session), given)


def same_origin(request: Request) -> bool:
    """No ``Origin`` header (older browsers, same-origin GET-born forms), or one naming this
    host. ``Origin: null`` (sandboxed frames, file pages) is refused."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    return urllib.parse.urlsplit(origin).netloc == request.headers.get("host", "")
