"""The platform's own tokens in the embedded profile: HS256 JWTs (see ``tokens``), each purpose
signed with its own key from ``<home>/keys`` (see ``keys``):

=========== ================================== =============================================
purpose     principal from ``verify``          claims
=========== ================================== =============================================
execution   kind ``execution``                 ``ns``, ``wf``, ``ex`` (one execution)
registry    kind ``registry``, scope push:repo ``ns``, ``repo``
=========== ================================== =============================================

They stay floww's whatever verifies the people (local accounts, WorkOS).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from floww.adapters.local.keys import KeyStore
from floww.adapters.local.tokens import TokenCodec, claimed_purpose
from floww.domain.errors import InvalidInput, Unauthenticated
from floww.domain.model import Principal
from floww.ports.support import Clock
from floww.ports.tokens import PlatformTokens

__all__ = ["LocalPlatformTokens", "claim", "require_values"]

_PURPOSES = ("execution", "registry")


def claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise Unauthenticated("malformed token")
    return value


def require_values(**values: str) -> None:
    empty = [name for name, value in values.items() if not isinstance(value, str) or not value]
    if empty:
        raise InvalidInput(f"a token needs a non-empty {', '.join(empty)}")


class LocalPlatformTokens(PlatformTokens):
    """Keys under ``home`` (created outside production mode; ``InvalidInput`` when production
    mode finds one missing or weak); time from ``clock``."""

    def __init__(self, home: Path, clock: Clock, *, production: bool = False) -> None:
        keys = KeyStore(home, purposes=_PURPOSES, production=production)
        self._codec = TokenCodec({purpose: keys.key(purpose) for purpose in _PURPOSES})
        self._clock = clock

    def issue_execution_token(
        self,
        *,
        namespace_id: str,
        workflow_id: str,
        execution_id: str,
        ttl_seconds: int,
        on_behalf_of: str | None = None,
    ) -> str:
        require_values(
            namespace_id=namespace_id, workflow_id=workflow_id, execution_id=execution_id
        )
        claims = {"ns": namespace_id, "wf": workflow_id, "ex": execution_id}
        if on_behalf_of:
            claims["by"] = on_behalf_of
        return self._codec.encode(
            "execution", claims, now=self._clock.now(), ttl_seconds=ttl_seconds
        )

    def issue_registry_token(self, *, namespace_id: str, repository: str, ttl_seconds: int) -> str:
        require_values(namespace_id=namespace_id, repository=repository)
        claims = {"ns": namespace_id, "repo": repository}
        return self._codec.encode(
            "registry", claims, now=self._clock.now(), ttl_seconds=ttl_seconds
        )

    def verify(self, token: str) -> Principal | None:
        if claimed_purpose(token) not in _PURPOSES:
            return None
        purpose, claims = self._codec.decode(token, purposes=_PURPOSES, now=self._clock.now())
        if purpose == "execution":
            return Principal(
                id=f"execution:{claim(claims, 'ex')}",
                kind="execution",
                namespace_id=claim(claims, "ns"),
                workflow_id=claim(claims, "wf"),
                execution_id=claim(claims, "ex"),
                on_behalf_of=str(claims["by"]) if isinstance(claims.get("by"), str) else None,
            )
        return Principal(
            id=f"registry:{claim(claims, 'ns')}",
            kind="registry",
            namespace_id=claim(claims, "ns"),
            scopes=(f"push:{claim(claims, 'repo')}",),
        )
