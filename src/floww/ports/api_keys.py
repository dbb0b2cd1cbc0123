"""ApiKeys: long-lived keys for CI, managed by a signed-in user."""

from __future__ import annotations

from typing import Protocol

from floww.domain.model import ApiKey, Principal

__all__ = ["ApiKeys"]


class ApiKeys(Protocol):
    """Long-lived API keys (for CI, sent as ``FLOWW_TOKEN``), each bound to one namespace.

    A key is shown in plain text once, when it is created; the adapter keeps only a digest.
    ``Identity.verify`` of a live key gives ``Principal(kind="api_key", id=<owner's user id>,
    namespace_id=<its namespace>, scopes=(<its scope>,))``; after ``revoke_api_key``, and once its
    owner is disabled, it raises ``Unauthenticated``.
    An adapter keeps the keys of ``user.id`` and does not judge the principal: who may manage
    keys (users only, never an API key or a workflow token) and in which namespaces is decided
    once, by the caller (``floww.domain.usecases.api_keys``).
    """

    def create_api_key(
        self, user: Principal, namespace_id: str, name: str, scope: str = "deploy"
    ) -> tuple[str, ApiKey]:
        """A new key of ``user`` for ``namespace_id`` with ``scope``: its plain text and its
        public info. ``verify`` of the key gives ``scopes=(scope,)``. ``InvalidInput`` for an
        empty namespace id or name; ``NotFound`` for an unknown user."""
        ...

    def list_api_keys(self, user: Principal) -> list[ApiKey]:
        """The live keys of ``user`` (every namespace), oldest first."""
        ...

    def revoke_api_key(self, user: Principal, key_id: str) -> None:
        """Make the key unusable at once. ``NotFound`` for an unknown id, a key already revoked
        and a key of another user (the same answer, so ids of others are not confirmed)."""
        ...
