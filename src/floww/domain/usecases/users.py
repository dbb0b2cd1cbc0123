"""Accounts: an administrator adds, lists, disables and enables users; a user changes their own
password and ends their own login.

Only an administrator (``UserAccount.admin``) signed in as themselves manages users:
``PermissionDenied`` for anyone else, and for API keys and the platform's tokens, whoever
owns them. A server whose identity provider keeps no accounts here (``ServerDeps.users`` is
``None``) answers ``Unavailable``.
"""

from __future__ import annotations

import secrets

from floww.domain.errors import Conflict, PermissionDenied, Unavailable
from floww.domain.model import Principal, UserAccount
from floww.domain.usecases.deps import ServerDeps
from floww.ports.users import Users

__all__ = [
    "add_user",
    "change_password",
    "list_users",
    "logout",
    "require_admin",
    "set_disabled",
    "users_of",
]


def users_of(deps: ServerDeps) -> Users:
    if deps.users is None:
        raise Unavailable(
            "this server's identity provider manages its users itself; manage them there"
        )
    return deps.users


def _require_person(principal: Principal) -> None:
    if principal.kind != "user":
        raise PermissionDenied(
            "accounts are managed by a signed-in user, not with an API key or a workflow token"
        )


def require_admin(deps: ServerDeps, principal: Principal) -> Users:
    """The users port, if the caller is a signed-in administrator; ``PermissionDenied``."""
    users = users_of(deps)
    _require_person(principal)
    if not users.get_account(principal.id).admin:
        raise PermissionDenied("only an administrator manages users")
    return users


def list_users(deps: ServerDeps, principal: Principal) -> list[UserAccount]:
    return require_admin(deps, principal).list_accounts()


def add_user(
    deps: ServerDeps,
    principal: Principal,
    email: str,
    password: str | None = None,
    *,
    admin: bool = False,
) -> tuple[UserAccount, str | None]:
    """A new account and, when no password was given (an invitation), the one-time password
    generated for it, to be handed to the person once. ``Conflict`` for a taken email,
    ``InvalidInput`` for a malformed email or a short password."""
    users = require_admin(deps, principal)
    generated = None if password is not None else secrets.token_urlsafe(12)
    account = users.add_user(email, password or generated or "", admin=admin)
    return account, generated


def set_disabled(
    deps: ServerDeps, principal: Principal, user_id: str, disabled: bool
) -> UserAccount:
    """Disable a user (their tokens, keys and logins stop at once) or enable them again.
    ``Conflict`` for an administrator disabling themselves; ``NotFound`` for an unknown id."""
    users = require_admin(deps, principal)
    if disabled and user_id == principal.id:
        raise Conflict("you cannot disable your own account; ask another administrator")
    return users.set_disabled(user_id, disabled)


def change_password(deps: ServerDeps, principal: Principal, current: str, new: str) -> None:
    """The caller's own password. ``Unauthenticated`` for a wrong current password,
    ``InvalidInput`` for a short new one."""
    users = users_of(deps)
    _require_person(principal)
    users.change_password(principal.id, current, new)


def logout(deps: ServerDeps, access_token: str) -> None:
    """End the login of ``access_token`` server-side; ``Unauthenticated`` when it is not a live
    access token."""
    users_of(deps).logout(access_token)
