"""Auth: who is calling, and the tokens the platform hands out.

- ``verify`` maps a bearer token to a ``Principal``; ``Unauthenticated`` for a missing,
  malformed, expired, revoked or forged token.
- Device authorization follows RFC 8628: ``poll_device`` raises ``DeviceAuthorizationPending``
  with ``authorization_pending``, ``slow_down`` (polled faster than ``interval``),
  ``expired_token`` or ``access_denied``; ``NotFound`` for an unknown device code.
- ``approve_device`` binds a pending user code to a user; ``NotFound`` for an unknown or
  expired user code.
- Execution tokens are bound to one execution of one workflow and expire; registry tokens allow
  pushing to one repository of one namespace.
- ``ApiKeys`` (a separate, optional port) lets a user manage long-lived keys for CI; see there.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from floww.domain.device_flow import PendingDevice
from floww.domain.model import ApiKey, Principal

__all__ = ["ApiKeys", "Auth", "DeviceAuthorization", "TokenSet"]


@attrs.frozen
class DeviceAuthorization:
    device_code: str = attrs.field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int

    @classmethod
    def of(
        cls, device: PendingDevice, *, verification_uri: str, expires_in: int
    ) -> DeviceAuthorization:
        """The answer for a device just started; its person goes to ``verification_uri``
        (the complete URI carries the user code)."""
        shown = device.shown_user_code
        return cls(
            device_code=device.device_code,
            user_code=shown,
            verification_uri=verification_uri,
            verification_uri_complete=f"{verification_uri}?user_code={shown}",
            expires_in=expires_in,
            interval=device.interval,
        )


@attrs.frozen
class TokenSet:
    access_token: str = attrs.field(repr=False)
    expires_in: int
    refresh_token: str | None = attrs.field(default=None, repr=False)
    token_type: str = "Bearer"


class Auth(Protocol):
    def verify(self, token: str) -> Principal: ...

    def start_device(self, client_id: str) -> DeviceAuthorization: ...

    def poll_device(self, device_code: str) -> TokenSet: ...

    def approve_device(self, user_code: str, user: Principal) -> None: ...

    def deny_device(self, user_code: str) -> None: ...

    def issue_execution_token(
        self, *, namespace_id: str, workflow_id: str, execution_id: str, ttl_seconds: int
    ) -> str: ...

    def issue_registry_token(
        self, *, namespace_id: str, repository: str, ttl_seconds: int
    ) -> str: ...


class ApiKeys(Protocol):
    """Long-lived API keys (for CI, sent as ``FLOWW_TOKEN``), each bound to one namespace.

    A key is shown in plain text once, when it is created; the adapter keeps only a digest.
    ``Auth.verify`` of a live key gives ``Principal(kind="api_key", id=<owner's user id>,
    namespace_id=<its namespace>)``; after ``revoke_api_key`` it raises ``Unauthenticated``.
    An adapter keeps the keys of ``user.id`` and does not judge the principal: who may manage
    keys (users only, never an API key or a workflow token) and in which namespaces is decided
    once, by the caller (``floww.domain.usecases.api_keys``).
    """

    def create_api_key(self, user: Principal, namespace_id: str, name: str) -> tuple[str, ApiKey]:
        """A new key of ``user`` for ``namespace_id``: its plain text and its public info.
        ``InvalidInput`` for an empty namespace id or name; ``NotFound`` for an unknown user."""
        ...

    def list_api_keys(self, user: Principal) -> list[ApiKey]:
        """The live keys of ``user`` (every namespace), oldest first."""
        ...

    def revoke_api_key(self, user: Principal, key_id: str) -> None:
        """Make the key unusable at once. ``NotFound`` for an unknown id, a key already revoked
        and a key of another user (the same answer, so ids of others are not confirmed)."""
        ...
