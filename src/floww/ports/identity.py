"""Identity: who is calling. People sign in through an identity provider (local accounts in the
embedded profile; WorkOS in the cloud); the platform's own tokens are another port
(``floww.ports.tokens``), whatever the provider.

- ``verify`` maps a user's bearer token (an access token, or an API key where the provider
  manages keys) to a ``Principal``; ``Unauthenticated`` for a missing, malformed, expired,
  revoked or forged token.
- Device authorization follows RFC 8628: ``poll_device`` raises ``DeviceAuthorizationPending``
  with ``authorization_pending``, ``slow_down`` (polled faster than ``interval``),
  ``expired_token`` or ``access_denied``; ``NotFound`` for an unknown device code.
- ``approve_device`` binds a pending user code to a user; ``NotFound`` for an unknown or
  expired user code; ``deny_device`` refuses it.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from floww.domain.device_flow import PendingDevice
from floww.domain.model import Principal

__all__ = ["DeviceAuthorization", "Identity", "TokenSet"]


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


class Identity(Protocol):
    def verify(self, token: str) -> Principal: ...

    def start_device(self, client_id: str) -> DeviceAuthorization: ...

    def poll_device(self, device_code: str) -> TokenSet: ...

    def approve_device(self, user_code: str, user: Principal) -> None: ...

    def deny_device(self, user_code: str) -> None: ...
