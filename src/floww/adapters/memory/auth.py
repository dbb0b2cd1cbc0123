"""In-memory auth: opaque random tokens mapped to principals, and RFC 8628 device flow."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta

import attrs

from floww.domain.device_flow import DeviceFlow
from floww.domain.errors import InvalidInput, Unauthenticated
from floww.domain.model import Principal
from floww.ports.auth import Auth, DeviceAuthorization, TokenSet
from floww.ports.support import Clock

__all__ = ["InMemoryAuth"]


@attrs.define
class _Grant:
    principal: Principal
    expires_at: datetime


class InMemoryAuth(Auth):
    """Tokens live in a dictionary; time comes from the injected clock, so expiry and
    ``slow_down`` are testable without sleeping. ``create_user``, ``issue_token`` and
    ``revoke`` exist for tests and embedded setups; ``device_flow`` holds the device logins
    in progress."""

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
