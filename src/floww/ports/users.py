"""Users: the accounts an identity provider keeps, as an administrator manages them, and the
logins (sessions) a user can end. The local accounts implement it; a provider that keeps its
people elsewhere (WorkOS) may not, and the server then answers ``Unavailable`` for these routes.

- An account is disabled at once: from then on ``Identity.verify`` refuses its access tokens
  and API keys and its refresh tokens are refused (``Unauthenticated``), not at their expiry.
- ``logout`` ends the login an access token belongs to: that token, every access token of the
  same login and its refresh token stop working at once.
"""

from __future__ import annotations

from typing import Protocol

from floww.domain.model import UserAccount

__all__ = ["UserAccount", "Users"]


class Users(Protocol):
    def add_user(self, email: str, password: str, *, admin: bool = False) -> UserAccount:
        """A new account. ``Conflict`` when the email is taken; ``InvalidInput`` for a
        malformed email or a password under 8 characters."""
        ...

    def get_account(self, user_id: str) -> UserAccount:
        """``NotFound`` for an unknown id."""
        ...

    def find_account(self, email: str) -> UserAccount | None:
        """The account of this email (any case), or ``None``; ``InvalidInput`` for a malformed
        email."""
        ...

    def list_accounts(self) -> list[UserAccount]:
        """Every account, by email."""
        ...

    def set_disabled(self, user_id: str, disabled: bool) -> UserAccount:
        """Disable (every token, key and login of the user stops at once) or enable again.
        ``NotFound`` for an unknown id."""
        ...

    def change_password(self, user_id: str, current: str, new: str) -> None:
        """``Unauthenticated`` when ``current`` is wrong; ``InvalidInput`` for a new password
        under 8 characters."""
        ...

    def logout(self, access_token: str) -> None:
        """End the login of ``access_token``; ``Unauthenticated`` when it is not a live access
        token."""
        ...
