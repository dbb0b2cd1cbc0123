"""In-memory platform tokens: opaque random ``flp_`` tokens mapped to their principals."""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta

import attrs

from floww.domain.errors import InvalidInput, Unauthenticated
from floww.domain.model import Principal
from floww.ports.support import Clock
from floww.ports.tokens import PlatformTokens

__all__ = ["InMemoryPlatformTokens"]

_PREFIX = "flp_"


@attrs.frozen
class _Grant:
    principal: Principal
    expires_at: datetime


class InMemoryPlatformTokens(PlatformTokens):
    """Time comes from the injected clock, so expiry is testable without sleeping."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}

    def issue_execution_token(
        self,
        *,
        namespace_id: str,
        workflow_id: str,
        execution_id: str,
        ttl_seconds: int,
        on_behalf_of: str | None = None,
    ) -> str:
        _require(namespace_id=namespace_id, workflow_id=workflow_id, execution_id=execution_id)
        principal = Principal(
            id=f"execution:{execution_id}",
            kind="execution",
            namespace_id=namespace_id,
            workflow_id=workflow_id,
            execution_id=execution_id,
            on_behalf_of=on_behalf_of or None,
        )
        return self._issue(principal, ttl_seconds)

    def issue_registry_token(self, *, namespace_id: str, repository: str, ttl_seconds: int) -> str:
        _require(namespace_id=namespace_id, repository=repository)
        principal = Principal(
            id=f"registry:{namespace_id}",
            kind="registry",
            namespace_id=namespace_id,
            scopes=(f"push:{repository}",),
        )
        return self._issue(principal, ttl_seconds)

    def verify(self, token: str) -> Principal | None:
        if not isinstance(token, str) or not token.startswith(_PREFIX):
            return None
        with self._lock:
            grant = self._grants.get(token)
        if grant is None:
            raise Unauthenticated("unknown platform token")
        if self._clock.now() >= grant.expires_at:
            raise Unauthenticated("token expired")
        return grant.principal

    def _issue(self, principal: Principal, ttl_seconds: int) -> str:
        if ttl_seconds <= 0:
            raise InvalidInput("a token needs a positive lifetime")
        token = _PREFIX + secrets.token_urlsafe(32)
        expires_at = self._clock.now() + timedelta(seconds=ttl_seconds)
        with self._lock:
            self._grants[token] = _Grant(principal, expires_at)
        return token


def _require(**values: str) -> None:
    empty = [name for name, value in values.items() if not isinstance(value, str) or not value]
    if empty:
        raise InvalidInput(f"a token needs a non-empty {', '.join(empty)}")
