"""In-memory identity: opaque random tokens mapped to principals, API keys kept as SHA-256
digests (the plain text is returned once, never stored), and the RFC 8628 device flow."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import datetime, timedelta

import attrs

from floww.domain.device_flow import DeviceFlow
from floww.domain.errors import InvalidInput, NotFound, Unauthenticated
from floww.domain.model import ApiKey, Principal
from floww.ports.api_keys import ApiKeys
from floww.ports.identity import DeviceAuthorization, Identity, TokenSet
from floww.ports.support import Clock

__all__ = ["InMemoryIdentity"]


@attrs.define
class _Grant:
    principal: Principal
    expires_at: datetime


@attrs.frozen
class _StoredKey:
    info: ApiKey
    sha256: str = attrs.field(repr=False)


_API_KEY_PREFIX = "floww_"


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


class InMemoryIdentity(Identity, ApiKeys):
    """Tokens live in a dictionary; time comes from the injected clock, so expiry and
    ``slow_down`` are testable without sleeping. ``create_user``, ``issue_token`` and
    ``revoke`` exist for tests and embedded setups; ``device_flow`` holds the device logins
    in progress. API keys follow the ``ApiKeys`` port, with the same errors as ``LocalAuth``. The
    platform's own tokens are ``InMemoryPlatformTokens``."""

    def __init__(
        self,
        clock: Clock,
        *,
        verification_uri: str = "http://localhost:8000/device",
        device_expires_in: int = 600,
        device_interval: int = 5,
        token_ttl_seconds: int = 3600,
    ) -> None:
        self._clock = clock
        self._verification_uri = verification_uri
        self._token_ttl = token_ttl_seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, _Grant] = {}
        self._users: dict[str, Principal] = {}
        self._api_keys: dict[str, _StoredKey] = {}
        self.device_flow = DeviceFlow(
            clock.now, expires_in=device_expires_in, interval=device_interval
        )

    # tokens -------------------------------------------------------------------------------

    def create_user(self, email: str) -> Principal:
        """The user with this email, made on first use."""
        with self._lock:
            if email not in self._users:
                user_id = f"user_{secrets.token_urlsafe(15)}"
                self._users[email] = Principal(id=user_id, kind="user", email=email)
            return self._users[email]

    def issue_token(self, principal: Principal, ttl_seconds: int = 3600) -> str:
        if ttl_seconds <= 0:
            raise InvalidInput("a token needs a positive lifetime")
        token = f"flw_{secrets.token_urlsafe(32)}"
        expires_at = self._clock.now() + timedelta(seconds=ttl_seconds)
        with self._lock:
            self._tokens[token] = _Grant(principal, expires_at)
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def verify(self, token: str) -> Principal:
        if not token:
            raise Unauthenticated("no token given")
        if token.startswith(_API_KEY_PREFIX):
            return self._verify_api_key(token)
        with self._lock:
            grant = self._tokens.get(token)
        if grant is None:
            raise Unauthenticated("unknown or revoked token")
        if self._clock.now() >= grant.expires_at:
            raise Unauthenticated("token expired")
        return grant.principal

    # API keys ---------------------------------------------------------------------------

    def create_api_key(self, user: Principal, namespace_id: str, name: str) -> tuple[str, ApiKey]:
        if not namespace_id or not isinstance(name, str) or not name.strip():
            raise InvalidInput("an API key needs a namespace and a name")
        plaintext = _API_KEY_PREFIX + secrets.token_urlsafe(32)
        info = ApiKey(
            id=f"key_{secrets.token_urlsafe(9)}",
            name=name.strip(),
            namespace_id=namespace_id,
            user_id=user.id,
            created_at=self._clock.now(),
            hint=f"{_API_KEY_PREFIX}...{plaintext[-4:]}",
        )
        with self._lock:
            if not any(known.id == user.id for known in self._users.values()):
                raise NotFound("user", user.id)
            self._api_keys[info.id] = _StoredKey(info, _digest(plaintext))
        return plaintext, info

    def list_api_keys(self, user: Principal) -> list[ApiKey]:
        with self._lock:
            found = [k.info for k in self._api_keys.values() if k.info.user_id == user.id]
        return sorted(found, key=lambda info: (info.created_at, info.id))

    def revoke_api_key(self, user: Principal, key_id: str) -> None:
        with self._lock:
            stored = self._api_keys.get(key_id)
            if stored is None or stored.info.user_id != user.id:
                raise NotFound("API key", key_id)
            del self._api_keys[key_id]

    def _verify_api_key(self, plaintext: str) -> Principal:
        digest = _digest(plaintext)
        with self._lock:
            stored = next(
                (k for k in self._api_keys.values() if hmac.compare_digest(k.sha256, digest)),
                None,
            )
            owner = next(
                (u for u in self._users.values() if stored and u.id == stored.info.user_id), None
            )
        if stored is None:
            raise Unauthenticated("unknown or revoked API key")
        return Principal(
            id=stored.info.user_id,
            kind="api_key",
            email=owner.email if owner is not None else None,
            namespace_id=stored.info.namespace_id,
        )

    # device authorization (RFC 8628) ------------------------------------------------------

    def start_device(self, client_id: str) -> DeviceAuthorization:
        device = self.device_flow.start(client_id)
        return DeviceAuthorization.of(
            device, verification_uri=self._verification_uri, expires_in=self.device_flow.expires_in
        )

    def poll_device(self, device_code: str) -> TokenSet:
        user = self.device_flow.poll(device_code)
        token = self.issue_token(user, self._token_ttl)
        return TokenSet(access_token=token, expires_in=self._token_ttl)

    def approve_device(self, user_code: str, user: Principal) -> None:
        self.device_flow.approve(user_code, user)

    def deny_device(self, user_code: str) -> None:
        self.device_flow.deny(user_code)
