"""``WorkOSIdentity``: people are WorkOS users; floww verifies their access tokens locally and
provisions what they may reach.

- ``verify`` checks an access token with ``WorkOSTokenVerifier`` (no call to WorkOS while the
  key set is cached), then provisions the user: the first call for a user reads its email and
  organization memberships through the SDK and hands them to ``provision`` (which makes
  organizations namespaces and memberships members); later calls reuse that for
  ``sync_interval`` seconds and then read them again. When WorkOS is unavailable at a re-read,
  the last provisioning stands; at the first one, ``verify`` raises ``Unavailable``.
- Device authorization is WorkOS's own (CLI Auth): ``/api/config`` sends clients to it, so
  the server's device endpoints refuse with ``InvalidInput`` naming the right endpoint.
- API keys are not served by this provider (the ``ApiKeys`` port stays unset).

``WorkOSBrowserSignIn`` is the AuthKit sign-in of the dashboard and admin pages: the session
cookie is an HS256 JWT signed with the cookie secret (``typ`` ``floww-browser``), carrying the
user, its email and the WorkOS session id that sign-out ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import jwt

from floww.adapters.workos.directory import WorkOSDirectory
from floww.adapters.workos.jwks import WorkOSTokenVerifier
from floww.domain.errors import InvalidInput, NotFound, Unauthenticated, Unavailable
from floww.domain.model import Principal
from floww.domain.usecases.provisioning import OrganizationRole
from floww.ports.browser_sign_in import BrowserSession, BrowserSignIn
from floww.ports.identity import DeviceAuthorization, Identity, TokenSet

__all__ = ["Provision", "WorkOSBrowserSignIn", "WorkOSIdentity"]

Provision = Callable[[str, Sequence[OrganizationRole]], object]
_COOKIE_TYPE = "floww-browser"
_KNOWN_USERS = 10_000  # provisioned users remembered per process (a cache: the database holds them)


class WorkOSIdentity(Identity):
    """See the module docstring. ``monotonic`` is injectable for the sync interval."""

    def __init__(
        self,
        verifier: WorkOSTokenVerifier,
        directory: WorkOSDirectory,
        provision: Provision,
        *,
        sync_interval: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verifier = verifier
        self.directory = directory
        self._provision = provision
        self._sync_interval = sync_interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Principal, float]] = {}

    def __repr__(self) -> str:
        return f"WorkOSIdentity({self.directory!r})"

    def verify(self, token: str) -> Principal:
        if not token or not isinstance(token, str):
            raise Unauthenticated("no token given")
        claims = self.verifier.claims(token)
        return self.provisioned(str(claims["sub"]))

    def provisioned(self, user_id: str) -> Principal:
        """The principal of a WorkOS user, provisioned as the module docstring says."""
        now = self._monotonic()
        with self._lock:
            known = self._known.get(user_id)
        if known is not None and now - known[1] < self._sync_interval:
            return known[0]
        try:
            email = self.directory.email(user_id)
            memberships = self.directory.memberships(user_id)
        except NotFound:
            raise Unauthenticated("this WorkOS user no longer exists") from None
        except Unavailable:
            if known is not None:
                return known[0]
            raise
        self._provision(user_id, memberships)
        principal = Principal(id=user_id, kind="user", email=email)
        with self._lock:
            self._known.pop(user_id, None)
            self._known[user_id] = (principal, now)
            if len(self._known) > _KNOWN_USERS:  # forget the least recently provisioned
                del self._known[next(iter(self._known))]
        return principal

    def start_device(self, client_id: str) -> DeviceAuthorization:
        raise InvalidInput(
            "this server signs people in with WorkOS: start device logins at "
            f"{self.directory.base_url}/user_management/authorize/device (see /api/config)"
        )

    def poll_device(self, device_code: str) -> TokenSet:
        raise InvalidInput(
            "this server signs people in with WorkOS: poll "
            f"{self.directory.base_url}/user_management/authenticate (see /api/config)"
        )

    def approve_device(self, user_code: str, user: Principal) -> None:
        raise InvalidInput("device logins are approved at WorkOS, not on this server")

    def deny_device(self, user_code: str) -> None:
        raise InvalidInput("device logins are approved at WorkOS, not on this server")

    def public_auth(self) -> dict[str, str]:
        """What ``/api/config`` tells clients about logging in: WorkOS CLI Auth's endpoints and
        the client id to send them."""
        base = self.directory.base_url
        return {
            "provider": "workos",
            "client_id": self.directory.client_id,
            "device_authorization_endpoint": f"{base}/user_management/authorize/device",
            "token_endpoint": f"{base}/user_management/authenticate",
            "jwks_uri": self.verifier.jwks_url,
        }


class WorkOSBrowserSignIn(BrowserSignIn):
    """AuthKit sign-in with a cookie signed by ``cookie_secret`` (at least 32 characters)."""

    def __init__(
        self,
        identity: WorkOSIdentity,
        *,
        redirect_uri: str,
        cookie_secret: str,
        session_ttl: int = 8 * 3600,
    ) -> None:
        if len(cookie_secret) < 32:
            raise InvalidInput("the session cookie secret needs at least 32 characters")
        self._identity = identity
        self._directory = identity.directory
        self._redirect_uri = redirect_uri
        self._secret = cookie_secret
        self._ttl = session_ttl

    def __repr__(self) -> str:
        return f"WorkOSBrowserSignIn(redirect_uri={self._redirect_uri!r})"

    def authorization_url(self, state: str) -> str:
        return self._directory.authorization_url(redirect_uri=self._redirect_uri, state=state)

    def complete(self, code: str) -> BrowserSession:
        if not code:
            raise Unauthenticated("the sign-in answer carries no code; sign in again")
        signed_in = self._directory.sign_in_with_code(code)
        claims = self._identity.verifier.claims(signed_in.access_token)
        principal = self._identity.provisioned(signed_in.user_id)
        now = int(time.time())
        cookie = jwt.encode(
            {
                "typ": _COOKIE_TYPE,
                "sub": principal.id,
                "email": principal.email,
                "sid": claims.get("sid"),
                "iat": now,
                "exp": now + self._ttl,
            },
            self._secret,
            algorithm="HS256",
        )
        return BrowserSession(principal, cookie, self._ttl)

    def _claims(self, cookie: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                cookie, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
            )
        except jwt.PyJWTError:
            raise Unauthenticated("the session cookie is not valid; sign in again") from None
        if claims.get("typ") != _COOKIE_TYPE:
            raise Unauthenticated("the session cookie is not valid; sign in again")
        return claims

    def principal(self, cookie: str) -> Principal:
        if not cookie:
            raise Unauthenticated("not signed in")
        claims = self._claims(cookie)
        email = claims.get("email")
        return Principal(
            id=str(claims["sub"]), kind="user", email=email if isinstance(email, str) else None
        )

    def sign_out_url(self, cookie: str | None, return_to: str) -> str:
        try:
            session_id = self._claims(cookie).get("sid") if cookie else None
        except Unauthenticated:
            session_id = None
        if not isinstance(session_id, str) or not session_id:
            return return_to
        return self._directory.logout_url(session_id, return_to)
