"""In-memory auth: opaque random tokens mapped to principals, and RFC 8628 device flow."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta

import attrs

from floww.domain.errors import (
    Conflict,
    DeviceAuthorizationPending,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from floww.domain.model import Principal
from floww.ports.auth import Auth, DeviceAuthorization, TokenSet
from floww.ports.support import Clock

__all__ = ["InMemoryAuth"]

# RFC 8628 section 6.1: consonants only, so codes spell no words and survive being read aloud.
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
_SLOW_DOWN_STEP = 5


@attrs.define
class _Grant:
    principal: Principal
    expires_at: datetime


@attrs.define
class _Device:
    device_code: str
    user_code: str
    client_id: str
    expires_at: datetime
    interval: int
    last_poll: datetime | None = None
    user: Principal | None = None
    denied: bool = False


def _normalize_user_code(user_code: str) -> str:
    return "".join(ch for ch in user_code.upper() if ch.isalnum())


class InMemoryAuth(Auth):
    """Tokens live in a dictionary; time comes from the injected clock, so expiry and
    ``slow_down`` are testable without sleeping. ``create_user``, ``issue_token`` and
    ``revoke`` exist for tests and embedded setups."""

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
        self._device_expires_in = device_expires_in
        self._device_interval = device_interval
        self._token_ttl = token_ttl_seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, _Grant] = {}
        self._users: dict[str, Principal] = {}
        self._devices: dict[str, _Device] = {}
        self._user_codes: dict[str, str] = {}

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
        with self._lock:
            grant = self._tokens.get(token)
        if grant is None:
            raise Unauthenticated("unknown or revoked token")
        if self._clock.now() >= grant.expires_at:
            raise Unauthenticated("token expired")
        return grant.principal

    def issue_execution_token(
        self, *, namespace_id: str, workflow_id: str, execution_id: str, ttl_seconds: int
    ) -> str:
        principal = Principal(
            id=f"execution:{execution_id}",
            kind="execution",
            namespace_id=namespace_id,
            workflow_id=workflow_id,
            execution_id=execution_id,
        )
        return self.issue_token(principal, ttl_seconds)

    def issue_registry_token(self, *, namespace_id: str, repository: str, ttl_seconds: int) -> str:
        principal = Principal(
            id=f"registry:{namespace_id}",
            kind="registry",
            namespace_id=namespace_id,
            scopes=(f"push:{repository}",),
        )
        return self.issue_token(principal, ttl_seconds)

    # device authorization (RFC 8628) ------------------------------------------------------

    def start_device(self, client_id: str) -> DeviceAuthorization:
        device_code = secrets.token_urlsafe(32)
        raw = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
        user_code = f"{raw[:4]}-{raw[4:]}"
        device = _Device(
            device_code=device_code,
            user_code=raw,
            client_id=client_id,
            expires_at=self._clock.now() + timedelta(seconds=self._device_expires_in),
            interval=self._device_interval,
        )
        with self._lock:
            self._devices[device_code] = device
            self._user_codes[raw] = device_code
        return DeviceAuthorization(
            device_code=device_code,
            user_code=user_code,
            verification_uri=self._verification_uri,
            verification_uri_complete=f"{self._verification_uri}?user_code={user_code}",
            expires_in=self._device_expires_in,
            interval=self._device_interval,
        )

    def poll_device(self, device_code: str) -> TokenSet:
        now = self._clock.now()
        with self._lock:
            device = self._devices.get(device_code)
            if device is None:
                raise NotFound("device code", "(redacted)")
            if now >= device.expires_at:
                raise DeviceAuthorizationPending("expired_token")
            last, device.last_poll = device.last_poll, now
            if last is not None and (now - last).total_seconds() < device.interval:
                device.interval += _SLOW_DOWN_STEP
                raise DeviceAuthorizationPending("slow_down")
            if device.denied:
                raise DeviceAuthorizationPending("access_denied")
            if device.user is None:
                raise DeviceAuthorizationPending("authorization_pending")
            # A device code is good for one token set.
            del self._devices[device_code]
            self._user_codes.pop(device.user_code, None)
            user = device.user
        token = self.issue_token(user, self._token_ttl)
        return TokenSet(access_token=token, expires_in=self._token_ttl)

    def approve_device(self, user_code: str, user: Principal) -> None:
        with self._lock:
            device = self._pending_device(user_code)
            device.user = user

    def deny_device(self, user_code: str) -> None:
        with self._lock:
            device = self._pending_device(user_code)
            device.denied = True

    def _pending_device(self, user_code: str) -> _Device:
        device_code = self._user_codes.get(_normalize_user_code(user_code))
        device = self._devices.get(device_code) if device_code else None
        if device is None or self._clock.now() >= device.expires_at:
            raise NotFound("user code", user_code)
        if device.user is not None or device.denied:
            raise Conflict(f"user code {user_code} was already decided", user_code=user_code)
        return device
