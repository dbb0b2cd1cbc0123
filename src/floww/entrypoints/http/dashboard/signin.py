"""How a person signs in to the dashboard: the seam an identity provider plugs into.

``BrowserSignIn.sign_in`` turns an email and password into a session token, a bearer token
that ``authenticate`` accepts (the dashboard keeps it in its cookie and checks it on every
request). The local accounts do this with ``PasswordSignIn``.

A provider that signs people in in its own pages (a hosted sign-in that redirects back) offers
``start_url`` instead; its callback (``floww.entrypoints.http.signin``) stores the provider's
signed session cookie as the dashboard's session, which ``principal`` checks on every request
and ``sign_out_url`` ends at the provider too. ``HostedSignIn`` is that bridge over any
``floww.ports.browser_sign_in.BrowserSignIn`` (AuthKit with WorkOS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs

from floww.domain.errors import InvalidInput
from floww.domain.model import Principal
from floww.ports import browser_sign_in

__all__ = ["HOSTED_START", "SESSION_TTL_S", "BrowserSignIn", "HostedSignIn", "PasswordSignIn"]

HOSTED_START = "/auth/signin?next=/ui/"

SESSION_TTL_S = 8 * 3600


class BrowserSignIn(Protocol):
    @property
    def start_url(self) -> str | None:
        """Where the sign-in page sends people (a hosted sign-in), or ``None`` for the
        email and password form."""

    def sign_in(self, email: str, password: str) -> str:
        """A session token for this person; ``Unauthenticated`` for a wrong email or
        password, ``InvalidInput`` for one that cannot be an account."""

    def principal(self, token: str) -> Principal | None:
        """The user of a session token this sign-in made in its own form (a hosted
        sign-in's signed cookie), ``Unauthenticated`` for a forged, expired or signed-out one;
        ``None`` when the token is a bearer token that the server checks as the API does."""

    def sign_out_url(self, token: str, return_to: str) -> str:
        """Where the browser goes after the dashboard dropped its session: the provider, to
        end its session too, or ``return_to``."""


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

    def principal(self, token: str) -> Principal | None:
        return None

    def sign_out_url(self, token: str, return_to: str) -> str:
        return return_to


def _as_is(principal: Principal) -> Principal:
    return principal


@attrs.frozen
class HostedSignIn(BrowserSignIn):
    """The dashboard over a provider's hosted sign-in: the sign-in page links to
    ``HOSTED_START``, the provider's callback stores its signed session cookie as the
    dashboard's session, and every request checks that cookie (signature, expiry) with the
    provider and then passes the user through ``current`` (with WorkOS: re-reads the user's
    organizations and roles now and then, and refuses a user WorkOS no longer has). Sign-out
    ends the provider's session too. There is no password form: ``sign_in`` refuses."""

    provider: browser_sign_in.BrowserSignIn
    current: Callable[[Principal], Principal] = _as_is

    @property
    def start_url(self) -> str | None:
        return HOSTED_START

    def sign_in(self, email: str, password: str) -> str:
        raise InvalidInput(
            "this server signs people in at its identity provider: use the Sign in button"
        )

    def principal(self, token: str) -> Principal | None:
        return self.current(self.provider.principal(token))

    def sign_out_url(self, token: str, return_to: str) -> str:
        return self.provider.sign_out_url(token or None, return_to)
