"""Logins: refresh-token families (OAuth 2.1 refresh token rotation, RFC 6819 5.2.2.3).

A login belongs to one user and remembers the digest of the one refresh generation that may be
redeemed next. Each method is atomic, so two replicas redeeming one refresh token at once see
one ``ROTATED`` and one ``REUSED``, never two new generations.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Protocol

import attrs

__all__ = ["Login", "LoginStore", "Rotation"]


@attrs.frozen
class Login:
    """``current`` is the SHA-256 digest (hex) of the refresh generation to redeem next, never
    the generation itself."""

    id: str
    user_id: str
    current: str = attrs.field(repr=False)
    expires_at: datetime
    revoked: bool = False


class Rotation(enum.Enum):
    ROTATED = "rotated"  # the presented generation was current; its successor is now
    REUSED = "reused"  # a spent generation came back: the login is revoked
    ENDED = "ended"  # no such live login (unknown, revoked, another user's, expired)


class LoginStore(Protocol):
    def start(self, login: Login) -> None:
        """Store a new login."""

    def find(self, login_id: str) -> Login | None: ...

    def rotate(
        self, login_id: str, user_id: str, presented: str, successor: str, now: datetime
    ) -> Rotation:
        """Redeem the generation whose digest is ``presented``: ``ROTATED`` (``successor``
        is current now), ``REUSED`` (the login is revoked), or ``ENDED``."""

    def revoke(self, login_id: str) -> None:
        """End one login (idempotent)."""

    def revoke_user(self, user_id: str) -> None:
        """End every login of a user."""

    def forget_expired(self, before: datetime) -> None:
        """Delete the logins that expired before ``before``."""
