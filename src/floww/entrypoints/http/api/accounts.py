"""Users, members, passwords and logout:

GET    /api/users                                       an administrator lists accounts
POST   /api/users                {"email", "password"?, "admin"?}  -> 201 (an invitation
                                 without a password answers a one-time password, once)
POST   /api/users/{user_id}/disable | /enable           an administrator
PUT    /api/account/password     {"current_password", "new_password"}  -> 204
POST   /api/auth/logout          ends the caller's login server-side   -> 204
GET    /api/namespaces/{namespace_id}/members           any member
PUT    /api/namespaces/{namespace_id}/members/{user}    {"role"}  an owner; user = email or id
DELETE /api/namespaces/{namespace_id}/members/{user}    an owner  -> 204
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from floww.domain.errors import Unauthenticated
from floww.domain.model import Member, UserAccount
from floww.domain.roles import ROLES
from floww.domain.usecases import members, users
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    call,
    field,
    json_object,
    ok,
    op,
    optional_field,
    read_json,
    run_as,
    services,
)

__all__ = ["ROUTES"]


def _account_json(account: UserAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "created_at": account.created_at.isoformat(),
        "admin": account.admin,
        "disabled": account.disabled,
    }


def _member_json(member: Member) -> dict[str, Any]:
    return {"namespace_id": member.namespace_id, "user_id": member.user_id, "role": member.role}


async def list_users(request: Request) -> Response:
    found = await call(request, users.list_users)
    return ok({"items": [_account_json(account) for account in found]})


async def add_user(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    account, generated = await run_as(
        request,
        principal,
        users.add_user,
        field(doc, "email", str),
        optional_field(doc, "password", str, None),
        admin=optional_field(doc, "admin", bool, False),
    )
    body: dict[str, Any] = {"user": _account_json(account)}
    if generated is not None:
        body["initial_password"] = generated
    return ok(body, 201)


def _set_disabled(disabled: bool) -> Any:
    async def endpoint(request: Request) -> Response:
        principal = await authenticate(request)
        account = await run_as(
            request, principal, users.set_disabled, request.path_params["user_id"], disabled
        )
        return ok({"user": _account_json(account)})

    return endpoint


async def change_password(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    guard, account = services(request).guard, principal.email or principal.id
    if guard is not None:  # the current password is guessed no faster than on /device
        guard.admit_login(request, account)
    await run_as(
        request,
        principal,
        users.change_password,
        field(doc, "current_password", str),
        field(doc, "new_password", str),
    )
    if guard is not None:
        guard.login_succeeded(request, account)
    return Response(status_code=204)


async def logout(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    await run_in_threadpool(users.logout, services(request).deps, token.strip())
    return Response(status_code=204)


async def list_members(request: Request) -> Response:
    found = await call(request, members.list_members, request.path_params["namespace_id"])
    return ok({"items": [_member_json(member) for member in found]})


async def set_member(request: Request) -> Response:
    principal = await authenticate(request)
    role = field(json_object(await read_json(request)), "role", str)
    member = await run_as(
        request,
        principal,
        members.set_member,
        request.path_params["namespace_id"],
        request.path_params["user"],
        role,
    )
    return ok(_member_json(member))


async def remove_member(request: Request) -> Response:
    await call(
        request,
        members.remove_member,
        request.path_params["namespace_id"],
        request.path_params["user"],
    )
    return Response(status_code=204)


_STR = {"type": "string"}
_ACCOUNT = {
    "type": "object",
    "required": ["id", "email", "created_at", "admin", "disabled"],
    "properties": {
        "id": _STR,
        "email": _STR,
        "created_at": _STR,
        "admin": {"type": "boolean"},
        "disabled": {"type": "boolean"},
    },
}
_ONE_ACCOUNT = {"type": "object", "required": ["user"], "properties": {"user": _ACCOUNT}}
_NEW_USER = {
    "type": "object",
    "required": ["email"],
    "properties": {"email": _STR, "password": _STR, "admin": {"type": "boolean"}},
}
_ADDED = {
    "type": "object",
    "required": ["user"],
    "properties": {
        "user": _ACCOUNT,
        "initial_password": {"type": "string", "description": "only for an invitation; once"},
    },
}
_PASSWORDS = {
    "type": "object",
    "required": ["current_password", "new_password"],
    "properties": {"current_password": _STR, "new_password": _STR},
}
_MEMBER = {
    "type": "object",
    "required": ["namespace_id", "user_id", "role"],
    "properties": {"namespace_id": _STR, "user_id": _STR, "role": {"enum": list(ROLES)}},
}
_ROLE = {"type": "object", "required": ["role"], "properties": {"role": {"enum": list(ROLES)}}}


def _items(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": schema}}}


_MEMBERS = "/api/namespaces/{namespace_id}/members"

ROUTES = [
    op(
        "GET",
        "/api/users",
        list_users,
        Doc("List accounts (administrators)", None, _items(_ACCOUNT), tag="users"),
    ),
    op(
        "POST",
        "/api/users",
        add_user,
        Doc("Add or invite a user (administrators)", _NEW_USER, _ADDED, status=201, tag="users"),
    ),
    op(
        "POST",
        "/api/users/{user_id}/disable",
        _set_disabled(True),
        Doc("Disable a user: their tokens and keys stop at once", None, _ONE_ACCOUNT, tag="users"),
    ),
    op(
        "POST",
        "/api/users/{user_id}/enable",
        _set_disabled(False),
        Doc("Enable a disabled user again", None, _ONE_ACCOUNT, tag="users"),
    ),
    op(
        "PUT",
        "/api/account/password",
        change_password,
        Doc("Change your own password", _PASSWORDS, status=204, tag="users"),
    ),
    op(
        "POST",
        "/api/auth/logout",
        logout,
        Doc("End this login: its access and refresh tokens stop at once", status=204, tag="auth"),
    ),
    op(
        "GET",
        _MEMBERS,
        list_members,
        Doc("A namespace's members and roles", None, _items(_MEMBER), tag="members"),
    ),
    op(
        "PUT",
        _MEMBERS + "/{user}",
        set_member,
        Doc("Add a member or change their role (owners)", _ROLE, _MEMBER, tag="members"),
    ),
    op(
        "DELETE",
        _MEMBERS + "/{user}",
        remove_member,
        Doc("Remove a member (owners)", status=204, tag="members"),
    ),
]
