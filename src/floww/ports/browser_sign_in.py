"""Browser sign-in: people sign in to the dashboard and admin pages at the identity provider
and come back with a session cookie that this server signed.

- ``authorization_url(state)`` is where the browser goes to sign in; the provider sends it
  back to the configured redirect URI with a ``code`` and the same ``state``.
- ``complete(code)`` trades the code for a signed-in session: ``Unauthenticated`` for a code
  the provider refuses (unknown, used, expired); ``Unavailable`` when the provider cannot be
  reached or fails.
- ``principal(cookie)`` is the user of a session cookie; ``Unauthenticated`` for a missing,
  forged, expired or signed-out one.
- ``sign_out_url(cookie, return_to)`` is where the browser goes to end the provider's session
  too (``return_to`` when there is none to end).
"""

from __future__ import annotations

from typing import Protocol

import attrs

from floww.domain.model import Principal

__all__ = ["BrowserSession", "BrowserSignIn"]


@attrs.frozen
class BrowserSession:
    """A signed-in browser: who, and the cookie value (signed by this server) that carries it
    for ``max_age`` seconds."""

    principal: Principal
    cookie: str = attrs.field(repr=False)
    max_age: int


class BrowserSignIn(Protocol):
    def authorization_url(self, state: str) -> str: ...

    def complete(self, code: str) -> BrowserSession: ...

    def principal(self, cookie: str) -> Principal: ...

    def sign_out_url(self, cookie: str | None, return_to: str) -> str: ...
