"""A namespace's members and their roles (``owner``, ``developer``, ``viewer``; the rules are
``floww.domain.roles``).

Members of any role see the member list; only an owner adds members, changes roles and
removes members. A namespace always keeps at least one owner: removing or demoting the last
one is a ``Conflict``. Members are named by email where the server keeps accounts, or by user
id (for identity providers that keep them elsewhere). An identity provider that maps its own
memberships onto floww's calls ``WorkflowRepo.add_member`` itself.
"""

from __future__ import annotations

from floww.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from floww.domain.model import Member, Principal
from floww.domain.roles import ROLES
from floww.domain.usecases.access import Action, require_namespace
from floww.domain.usecases.deps import ServerDeps

__all__ = ["list_members", "remove_member", "resolve_user", "set_member"]


def _require_person(principal: Principal) -> None:
    """Members are managed by a signed-in person: never with an API key (a leaked CI key
    could otherwise make an account of its holder's an owner) nor a workflow token."""
    if principal.kind != "user":
        raise PermissionDenied(
            "members are managed by a signed-in owner, not with an API key or a workflow token"
        )


def resolve_user(deps: ServerDeps, who: str) -> str:
    """The user id of ``who``: an email of a known account, or a user id as is. ``NotFound``
    for an email no account has, and for a user id no account has where the server keeps
    accounts (no membership waits for an account that does not exist yet)."""
    if not isinstance(who, str) or not who.strip():
        raise InvalidInput("name the user by email or user id", field="user")
    who = who.strip()
    if "@" not in who:
        if deps.users is not None:
            deps.users.get_account(who)  # NotFound for an id no account has
        return who
    account = deps.users.find_account(who) if deps.users is not None else None
    if account is None:
        raise NotFound("user", who)
    return account.id


def list_members(deps: ServerDeps, principal: Principal, namespace_id: str) -> list[Member]:
    require_namespace(deps.repo, principal, namespace_id, Action.READ)
    return deps.repo.list_members(namespace_id)


def _owners(deps: ServerDeps, namespace_id: str) -> set[str]:
    return {m.user_id for m in deps.repo.list_members(namespace_id) if m.role == "owner"}


def set_member(
    deps: ServerDeps, principal: Principal, namespace_id: str, who: str, role: str
) -> Member:
    """Add ``who`` with ``role``, or change their role. ``InvalidInput`` for an unknown role,
    ``NotFound`` for an unknown email, ``Conflict`` for demoting the last owner."""
    _require_person(principal)
    require_namespace(deps.repo, principal, namespace_id, Action.MANAGE)
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(ROLES)}", field="role")
    user_id = resolve_user(deps, who)
    if role != "owner" and _owners(deps, namespace_id) == {user_id}:
        raise Conflict("a namespace keeps at least one owner; make someone else owner first")
    member = Member(namespace_id, user_id, role)
    deps.repo.add_member(member)
    return member


def remove_member(deps: ServerDeps, principal: Principal, namespace_id: str, who: str) -> None:
    """Take a member's access away at once (their API keys of the namespace stop too).
    ``NotFound`` for someone who is not a member, ``Conflict`` for the last owner."""
    _require_person(principal)
    require_namespace(deps.repo, principal, namespace_id, Action.MANAGE)
    user_id = resolve_user(deps, who)
    if _owners(deps, namespace_id) == {user_id}:
        raise Conflict("a namespace keeps at least one owner; make someone else owner first")
    deps.repo.remove_member(namespace_id, user_id)
