"""How a person signs in to the dashboard: the seam an identity provider plugs into.

``BrowserSignIn.sign_in`` turns an email and password into a session token, a bearer token
that ``authenticate`` accepts (the dashboard keeps it in its cookie and checks it on every
request). The local accounts do this with ``PasswordSignIn``. A provider that signs people in
in its own pages (a hosted sign-in that redirects back) offers ``start_url`` instead and mounts
its callback, which stores the session token it gets with ``session.set_session``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs

from floww.domain.model import Principal

__all__ = ["SESSION_TTL_S", "BrowserSignIn", "PasswordSignIn"]

SESSION_TTL_S = 8 * 3600


class BrowserSignIn(Protocol):
    @property
    def start_url(self) -> str | None:
        """Where the sign-in page sends people (a hosted sign-in), or ``None`` for the
        email and password form."""

    def sign_in(self, email: str, password: str) -> str:
        """A session token for this person; ``Unauthenticated`` for a wrong email or
        password, ``InvalidInput`` for one that cannot be an account."""


@attrs.frozen
class PasswordSignIn(BrowserSignIn):
    """Sign-in with the local accounts: ``check_password`` gives the user, ``issue`` a user
    access token that lasts ``ttl_s`` seconds."""

    check_password: Callable[[str, str], Principal]
    issue: Callable[[Principal, int], str]
    ttl_s: int = SESSION_TTL_S

    @property
    def start_url(self) -> str | None:
        return None

    def sign_in(self, email: str, password: str) -> str:
        return self.issue(self.check_password(email, password), self.ttl_s)
