"""Local auth for the embedded profile: accounts on disk, self-issued signed tokens, API keys,
and the RFC 8628 device flow served by the floww server itself.

Tokens are HS256 JWTs (see ``tokens``), each purpose signed with its own key from
``<home>/keys`` (see ``keys``); the platform's own tokens (execution, registry) are
``platform_tokens``:

=========== ================================== =============================================
purpose     principal from ``verify``          claims
=========== ================================== =============================================
access      kind ``user``: id, email           ``sub``, ``email``, ``sid`` (its login)
refresh     never (only ``refresh`` takes it)  ``sub``, ``sid``, ``gen`` (its generation)
=========== ================================== =============================================

API keys (``floww_...``, for CI as ``FLOWW_TOKEN``) are checked against their stored digest
and give a ``Principal(kind="api_key")`` bound to one namespace and carrying its scope; the caller
decides whether the user may create a key for that namespace. Every device login starts a
login (a refresh-token family, see ``accounts``): its refresh token rotates on each use, a
spent one presented again revokes the whole login, and ``logout`` revokes it. ``verify``
checks, beyond the signature and expiry, that the user is not disabled and the login is live,
so disabling a user or logging out takes effect at once. API keys can be revoked one by one
and stop with their owner.

Logins live in the ``logins`` store handed in (the server's database, ``SqlLogins``, with
refresh generations as digests only); without one, in the accounts file (``FileLogins``).

Device authorizations live in the ``device_logins`` store handed in (the server's database,
where device codes are kept as digests only), so a login started on one replica is approved
and polled on another and survives a restart; without one, in memory. There is no global cap
on pending logins (a flood must not lock everyone out): expired ones are forgotten as new ones
start, and floods are refused per client at the edge.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from floww.adapters.local.accounts import API_KEY_PREFIX, AccountStore, ApiKeyInfo, FileLogins
from floww.adapters.local.keys import KeyStore
from floww.adapters.local.platform_tokens import claim, require_values
from floww.adapters.local.tokens import TokenCodec
from floww.domain.device_flow import DeviceFlow, DeviceLoginStore
from floww.domain.errors import InvalidInput, NotFound, Unauthenticated
from floww.domain.model import ApiKey, Principal, UserAccount
from floww.ports.api_keys import ApiKeys
from floww.ports.identity import DeviceAuthorization, Identity, TokenSet
from floww.ports.logins import Login, LoginStore, Rotation
from floww.ports.support import Clock
from floww.ports.users import Users

__all__ = ["LocalAuth"]

_TOKEN_PURPOSES = ("access", "refresh")


def _digest(generation: str) -> str:
    return hashlib.sha256(generation.encode("utf-8")).hexdigest()


def _api_key(info: ApiKeyInfo) -> ApiKey:
    return ApiKey(
        id=info.id,
        name=info.name,
        namespace_id=info.namespace_id,
        user_id=info.user_id,
        created_at=info.created_at,
        hint=info.hint,
        scope=info.scope,
    )


class LocalAuth(Identity, ApiKeys, Users):
    """``Identity`` backed by files under ``home``; time comes from ``clock``.

    Construction loads (outside production mode: creates) the key files and raises
    ``InvalidInput`` when production mode finds a key missing or weak.
    """

    def __init__(
        self,
        home: Path,
        clock: Clock,
        *,
        verification_uri: str,
        production: bool = False,
        access_ttl: int = 3600,
        refresh_ttl: int = 30 * 24 * 3600,
        device_interval: int = 5,
        device_expires_in: int = 600,
        device_logins: DeviceLoginStore | None = None,
        logins: LoginStore | None = None,
    ) -> None:
        if min(access_ttl, refresh_ttl, device_interval, device_expires_in) <= 0:
            raise InvalidInput("token lifetimes and device intervals must be positive")
        keys = KeyStore(home, purposes=_TOKEN_PURPOSES, production=production)
        self._codec = TokenCodec({purpose: keys.key(purpose) for purpose in _TOKEN_PURPOSES})
        self._accounts = AccountStore(home, clock)
        self._logins: LoginStore = logins if logins is not None else FileLogins(self._accounts)
        self._home = Path(home)
        self._clock = clock
        self._verification_uri = verification_uri
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl
        self.device_flow = DeviceFlow(
            clock.now,
            expires_in=device_expires_in,
            interval=device_interval,
            store=device_logins,
        )

    def __repr__(self) -> str:
        return f"LocalAuth(home={str(self._home)!r})"

    # verifying ----------------------------------------------------------------------------

    def verify(self, token: str) -> Principal:
        """The principal of a user's access token or of an API key.
        ``Unauthenticated`` for anything missing, malformed, forged, expired or revoked, and
        for refresh tokens."""
        if not token or not isinstance(token, str):
            raise Unauthenticated("no token given")
        if token.startswith(API_KEY_PREFIX):
            return self._accounts.verify_api_key(token)
        _, claims = self._codec.decode(token, purposes=("access",), now=self._clock.now())
        email = claims.get("email")
        user_id = claim(claims, "sub")
        self._accounts.require_active(user_id)
        if claims.get("sid") is not None:
            self._require_live(claim(claims, "sid"), user_id)
        return Principal(id=user_id, kind="user", email=email if isinstance(email, str) else None)

    def _require_live(self, login_id: str, user_id: str) -> None:
        login = self._logins.find(login_id)
        if login is None or login.revoked or login.user_id != user_id:
            raise Unauthenticated("this login has ended; sign in again with `floww login`")

    # issuing ------------------------------------------------------------------------------

    def issue_token(
        self, principal: Principal, ttl_seconds: int = 3600, *, session_id: str | None = None
    ) -> str:
        """A user access token, of the login ``session_id`` when given (then it ends with that
        login). ``InvalidInput`` for a principal that is not a user or a non-positive
        lifetime."""
        if principal.kind != "user":
            raise InvalidInput(f"access tokens are for users, not for a {principal.kind}")
        require_values(id=principal.id)
        claims: dict[str, Any] = {"sub": principal.id}
        if session_id is not None:
            claims["sid"] = session_id
        if principal.email is not None:
            claims["email"] = principal.email
        return self._codec.encode("access", claims, now=self._clock.now(), ttl_seconds=ttl_seconds)

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new token set for the user of a valid refresh token; the presented one is spent.
        ``Unauthenticated`` for a malformed, forged, expired or non-refresh token, a login that
        ended, a disabled or unknown user, and a refresh token spent before (which ends its
        whole login: RFC 6819 5.2.2.3)."""
        if not refresh_token or not isinstance(refresh_token, str):
            raise Unauthenticated("no refresh token given")
        _, claims = self._codec.decode(refresh_token, purposes=("refresh",), now=self._clock.now())
        try:
            user = self._accounts.get_user(claim(claims, "sub"))
        except NotFound:
            raise Unauthenticated("the user of this refresh token no longer exists") from None
        self._accounts.require_active(user.id)
        session_id = claim(claims, "sid")
        generation = secrets.token_urlsafe(16)
        rotation = self._logins.rotate(
            session_id,
            user.id,
            _digest(claim(claims, "gen")),
            _digest(generation),
            self._clock.now(),
        )
        if rotation is Rotation.REUSED:
            raise Unauthenticated(
                "this refresh token was used already, so the login was revoked; "
                "sign in again with `floww login`"
            )
        if rotation is not Rotation.ROTATED:
            raise Unauthenticated("this login has ended; sign in again with `floww login`")
        return self._token_set(user, session_id, generation)

    def _token_set(
        self, user: Principal, session_id: str | None = None, generation: str | None = None
    ) -> TokenSet:
        now = self._clock.now()
        if session_id is None or generation is None:
            self._logins.forget_expired(now)
            session_id = f"ses_{secrets.token_urlsafe(12)}"
            generation = secrets.token_urlsafe(16)
            expires = now + timedelta(seconds=self._refresh_ttl)
            self._logins.start(Login(session_id, user.id, _digest(generation), expires))
        refresh = self._codec.encode(
            "refresh",
            {"sub": user.id, "sid": session_id, "gen": generation},
            now=now,
            ttl_seconds=self._refresh_ttl,
        )
        return TokenSet(
            access_token=self.issue_token(user, self._access_ttl, session_id=session_id),
            expires_in=self._access_ttl,
            refresh_token=refresh,
        )

    def start_login(self, user: Principal) -> TokenSet:
        """A new login of ``user`` and its first token pair: what an approved device login
        yields. The caller has checked who the user is."""
        return self._token_set(user)

    def logout(self, access_token: str) -> None:
        """End the login of a live access token: its access and refresh tokens stop at once.
        ``Unauthenticated`` for anything but a live access token."""
        if not access_token or access_token.startswith(API_KEY_PREFIX):
            raise Unauthenticated("log out with a login's access token, not an API key")
        _, claims = self._codec.decode(access_token, purposes=("access",), now=self._clock.now())
        session_id = claims.get("sid")
        if not isinstance(session_id, str):
            raise Unauthenticated("this token belongs to no login")
        self._require_live(session_id, claim(claims, "sub"))
        self._logins.revoke(session_id)

    # accounts -----------------------------------------------------------------------------

    def create_user(
        self, email: str, password: str | None = None, *, admin: bool = False
    ) -> Principal:
        """The user with this email, created on first use with a stable id. ``Conflict`` when
        a password is given for an existing email; ``InvalidInput`` for a malformed email or a
        password under 8 characters."""
        return self._accounts.create_user(email, password, admin=admin)

    def add_user(self, email: str, password: str, *, admin: bool = False) -> UserAccount:
        """A new account; ``Conflict`` when the email is taken (see ``Users``)."""
        if not isinstance(password, str):
            raise InvalidInput("a new account needs a password")
        user = self._accounts.create_user(email, password, admin=admin)
        return self._accounts.get_account(user.id)

    def get_account(self, user_id: str) -> UserAccount:
        return self._accounts.get_account(user_id)

    def find_account(self, email: str) -> UserAccount | None:
        return self._accounts.find_account(email)

    def list_accounts(self) -> list[UserAccount]:
        return self._accounts.list_accounts()

    def set_disabled(self, user_id: str, disabled: bool) -> UserAccount:
        account = self._accounts.set_disabled(user_id, disabled)
        if disabled:
            self._logins.revoke_user(user_id)
        return account

    def change_password(self, user_id: str, current: str, new: str) -> None:
        self._accounts.change_password(user_id, current, new)
        # Whoever held a stolen login keeps nothing: every login of the user ends.
        self._logins.revoke_user(user_id)

    def has_users(self) -> bool:
        """Whether any account exists (a first start has none)."""
        return self._accounts.has_users()

    def check_password(self, email: str, password: str) -> Principal:
        """The user, if the password is theirs; ``Unauthenticated`` otherwise."""
        return self._accounts.check_password(email, password)

    def create_api_key(
        self, user: Principal, namespace_id: str, name: str, scope: str = "deploy"
    ) -> tuple[str, ApiKey]:
        """A new API key of ``user`` for one namespace with ``scope``: the plain text (shown
        once) and its info. ``InvalidInput`` for an empty namespace or name; ``NotFound`` for
        an unknown user. Who may manage keys is ``usecases.api_keys``'s decision."""
        plaintext, info = self._accounts.create_api_key(user.id, namespace_id, name, scope)
        return plaintext, _api_key(info)

    def list_api_keys(self, user: Principal) -> list[ApiKey]:
        """The user's keys, oldest first."""
        return [_api_key(info) for info in self._accounts.list_api_keys(user.id)]

    def revoke_api_key(self, user: Principal, key_id: str) -> None:
        """``NotFound`` when ``user`` has no key with this id."""
        self._accounts.revoke_api_key(user.id, key_id)

    # device authorization (RFC 8628) ------------------------------------------------------

    def start_device(self, client_id: str) -> DeviceAuthorization:
        """A new pending authorization. ``Unavailable`` when no free user code is found."""
        device = self.device_flow.start(client_id)
        return DeviceAuthorization.of(
            device, verification_uri=self._verification_uri, expires_in=self.device_flow.expires_in
        )

    def poll_device(self, device_code: str) -> TokenSet:
        """Tokens once approved; otherwise ``DeviceAuthorizationPending`` (see the port).
        A device code yields one token set; after that it is ``NotFound``."""
        return self.start_login(self.device_flow.poll(device_code))

    def approve_device(self, user_code: str, user: Principal) -> None:
        """Grant a pending code to ``user``. ``NotFound`` for an unknown or expired code,
        ``Conflict`` for one already approved or denied, ``InvalidInput`` for a non-user."""
        self.device_flow.approve(user_code, user)

    def deny_device(self, user_code: str) -> None:
        """Refuse a pending code. ``NotFound`` / ``Conflict`` as for ``approve_device``."""
        self.device_flow.deny(user_code)
