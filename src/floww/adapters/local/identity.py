"""Local auth for the embedded profile: accounts on disk, self-issued signed tokens, API keys,
and the RFC 8628 device flow served by the floww server itself.

Tokens are HS256 JWTs (see ``tokens``), each purpose signed with its own key from
``<home>/keys`` (see ``keys``); the platform's own tokens (execution, registry) are
``platform_tokens``:

=========== ================================== =============================================
purpose     principal from ``verify``          claims
=========== ================================== =============================================
access      kind ``user``: id, email           ``sub``, ``email``
refresh     never (only ``refresh`` takes it)  ``sub``
=========== ================================== =============================================

API keys (``floww_...``, for CI as ``FLOWW_TOKEN``) are checked against their stored digest
and give a ``Principal(kind="api_key")`` bound to one namespace; the caller decides whether the
user may create a key for that namespace. Tokens are stateless: an access or refresh token
stays valid until it expires (revoking one means rotating its key file); API keys can be
revoked one by one.

Device authorizations live in the ``device_logins`` store handed in (the server's database,
where device codes are kept as digests only), so a login started on one replica is approved
and polled on another and survives a restart; without one, in memory. There is no global cap
on pending logins (a flood must not lock everyone out): expired ones are forgotten as new ones
start, and floods are refused per client at the edge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from floww.adapters.local.accounts import API_KEY_PREFIX, AccountStore, ApiKeyInfo
from floww.adapters.local.keys import KeyStore
from floww.adapters.local.platform_tokens import claim, require_values
from floww.adapters.local.tokens import TokenCodec
from floww.domain.device_flow import DeviceFlow, DeviceLoginStore
from floww.domain.errors import InvalidInput, NotFound, Unauthenticated
from floww.domain.model import ApiKey, Principal
from floww.ports.api_keys import ApiKeys
from floww.ports.identity import DeviceAuthorization, Identity, TokenSet
from floww.ports.support import Clock

__all__ = ["LocalAuth"]

_TOKEN_PURPOSES = ("access", "refresh")


def _api_key(info: ApiKeyInfo) -> ApiKey:
    return ApiKey(
        id=info.id,
        name=info.name,
        namespace_id=info.namespace_id,
        user_id=info.user_id,
        created_at=info.created_at,
        hint=info.hint,
    )


class LocalAuth(Identity, ApiKeys):
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
    ) -> None:
        if min(access_ttl, refresh_ttl, device_interval, device_expires_in) <= 0:
            raise InvalidInput("token lifetimes and device intervals must be positive")
        keys = KeyStore(home, purposes=_TOKEN_PURPOSES, production=production)
        self._codec = TokenCodec({purpose: keys.key(purpose) for purpose in _TOKEN_PURPOSES})
        self._accounts = AccountStore(home, clock)
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
        return Principal(
            id=claim(claims, "sub"),
            kind="user",
            email=email if isinstance(email, str) else None,
        )

    # issuing ------------------------------------------------------------------------------

    def issue_token(self, principal: Principal, ttl_seconds: int = 3600) -> str:
        """A user access token. ``InvalidInput`` for a principal that is not a user or a
        non-positive lifetime."""
        if principal.kind != "user":
            raise InvalidInput(f"access tokens are for users, not for a {principal.kind}")
        require_values(id=principal.id)
        claims: dict[str, Any] = {"sub": principal.id}
        if principal.email is not None:
            claims["email"] = principal.email
        return self._codec.encode("access", claims, now=self._clock.now(), ttl_seconds=ttl_seconds)

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new token set for the user of a valid refresh token. ``Unauthenticated`` for a
        malformed, forged, expired or non-refresh token, or when the user no longer exists."""
        if not refresh_token or not isinstance(refresh_token, str):
            raise Unauthenticated("no refresh token given")
        _, claims = self._codec.decode(refresh_token, purposes=("refresh",), now=self._clock.now())
        try:
            user = self._accounts.get_user(claim(claims, "sub"))
        except NotFound:
            raise Unauthenticated("the user of this refresh token no longer exists") from None
        return self._token_set(user)

    def _token_set(self, user: Principal) -> TokenSet:
        now = self._clock.now()
        refresh = self._codec.encode(
            "refresh", {"sub": user.id}, now=now, ttl_seconds=self._refresh_ttl
        )
        return TokenSet(
            access_token=self.issue_token(user, self._access_ttl),
            expires_in=self._access_ttl,
            refresh_token=refresh,
        )

    # accounts -----------------------------------------------------------------------------

    def create_user(self, email: str, password: str | None = None) -> Principal:
        """The user with this email, created on first use with a stable id. ``Conflict`` when
        a password is given for an existing email; ``InvalidInput`` for a malformed email or a
        password under 8 characters."""
        return self._accounts.create_user(email, password)

    def has_users(self) -> bool:
        """Whether any account exists (a first start has none)."""
        return self._accounts.has_users()

    def check_password(self, email: str, password: str) -> Principal:
        """The user, if the password is theirs; ``Unauthenticated`` otherwise."""
        return self._accounts.check_password(email, password)

    def create_api_key(self, user: Principal, namespace_id: str, name: str) -> tuple[str, ApiKey]:
        """A new API key of ``user`` for one namespace: the plain text (shown once) and its
        info. ``InvalidInput`` for an empty namespace or name; ``NotFound`` for an unknown
        user. Who may manage keys is ``usecases.api_keys``'s decision."""
        plaintext, info = self._accounts.create_api_key(user.id, namespace_id, name)
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
        return self._token_set(self.device_flow.poll(device_code))

    def approve_device(self, user_code: str, user: Principal) -> None:
        """Grant a pending code to ``user``. ``NotFound`` for an unknown or expired code,
        ``Conflict`` for one already approved or denied, ``InvalidInput`` for a non-user."""
        self.device_flow.approve(user_code, user)

    def deny_device(self, user_code: str) -> None:
        """Refuse a pending code. ``NotFound`` / ``Conflict`` as for ``approve_device``."""
        self.device_flow.deny(user_code)
