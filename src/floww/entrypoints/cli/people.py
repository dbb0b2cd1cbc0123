"""``floww users`` (administrators), ``floww namespace members`` (owners change, members read)
and ``floww account password``: the people of a server and of a namespace."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from floww.domain.errors import InvalidInput
from floww.domain.roles import ROLES
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option, listing_group, server_option
from floww.entrypoints.cli.output import echo_json, echo_table
from floww.entrypoints.cli.session import session

__all__ = ["account", "members", "users"]

_NAMESPACE = click.option(
    "--namespace", "namespace_name", default=None, help="Namespace [default: current]."
)


def _seg(value: str) -> str:
    return quote(value, safe="")


def _user_row(user: dict[str, Any]) -> tuple[str, ...]:
    state = "disabled" if user["disabled"] else "active"
    return (user["email"], user["id"], "admin" if user["admin"] else "", state)


# users (administrators) -------------------------------------------------------------------


@listing_group()
def users() -> None:
    """Accounts on this server (administrators): list, add or invite, disable, enable.
    Alone: list them."""


@users.command("list")
@server_option
@json_option
@handle_errors()
def users_list(server: str | None = None, as_json: bool = False) -> None:
    """List the accounts of the server.

    \b
    Example:
      floww users list
    """
    found = session(server).api.get("/api/users")["items"]
    if as_json:
        echo_json(found)
        return
    echo_table([_user_row(u) for u in found], ("EMAIL", "ID", "ADMIN", "STATE"), "No users.")


@users.command("add")
@click.argument("email")
@click.option(
    "--password",
    "set_password",
    is_flag=True,
    help="Type a password for the user instead of getting a one-time password to hand over.",
)
@click.option("--admin", is_flag=True, help="The new user may manage users too.")
@server_option
@json_option
@handle_errors()
def users_add(
    email: str, set_password: bool, admin: bool, server: str | None, as_json: bool
) -> None:
    """Add a user with EMAIL, or invite them: without --password a one-time password is
    printed once, to hand to them; they change it with `floww account password`.

    \b
    Example:
      floww users add ada@example.com
    """
    body: dict[str, Any] = {"email": email, "admin": admin}
    if set_password:
        body["password"] = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    made = session(server).api.post("/api/users", body)
    if as_json:
        echo_json(made)
        return
    click.echo(f"Added {made['user']['email']} ({made['user']['id']}).")
    if "initial_password" in made:
        click.echo("One-time password (shown this once; hand it over privately):")
        click.echo(f"\n  {made['initial_password']}\n")
    click.echo("Give them a role in a namespace with `floww namespace members add EMAIL ROLE`.")


def _find_user(server: str | None, who: str) -> dict[str, Any]:
    for user in session(server).api.get("/api/users")["items"]:
        if who.lower() in (str(user["email"]).lower(), str(user["id"]).lower()):
            return dict(user)
    raise InvalidInput(f"no user {who!r}; see `floww users list`")


def _set_disabled(who: str, server: str | None, disabled: bool) -> None:
    user = _find_user(server, who)
    verb = "disable" if disabled else "enable"
    done = session(server).api.post(f"/api/users/{_seg(str(user['id']))}/{verb}")["user"]
    click.echo(f"{done['email']} is {'disabled' if done['disabled'] else 'enabled'}.")


@users.command("disable")
@click.argument("who")
@server_option
@handle_errors()
def users_disable(who: str, server: str | None) -> None:
    """Disable the user WHO (email or id): their logins, tokens and API keys stop at once.

    \b
    Example:
      floww users disable eve@example.com
    """
    _set_disabled(who, server, True)


@users.command("enable")
@click.argument("who")
@server_option
@handle_errors()
def users_enable(who: str, server: str | None) -> None:
    """Enable the user WHO again (their API keys work again; they log in anew).

    \b
    Example:
      floww users enable eve@example.com
    """
    _set_disabled(who, server, False)


# namespace members ------------------------------------------------------------------------


@listing_group()
def members() -> None:
    """Members of the current namespace and their roles: owner (everything, members and
    providers too), developer (deploy, run, read), viewer (read). Alone: list them."""


def _members_path(server: str | None, namespace_name: str | None) -> tuple[str, str]:
    ns = session(server).namespace(namespace_name)
    return str(ns["name"]), f"/api/namespaces/{_seg(str(ns['id']))}/members"


@members.command("list")
@_NAMESPACE
@server_option
@json_option
@handle_errors()
def members_list(
    namespace_name: str | None = None, server: str | None = None, as_json: bool = False
) -> None:
    """List the members of the namespace.

    \b
    Example:
      floww namespace members list
    """
    _, path = _members_path(server, namespace_name)
    found = session(server).api.get(path)["items"]
    if as_json:
        echo_json(found)
        return
    echo_table([(m["user_id"], m["role"]) for m in found], ("USER", "ROLE"), "No members.")


@members.command("add")
@click.argument("who")
@click.argument("role", type=click.Choice(ROLES))
@_NAMESPACE
@server_option
@handle_errors()
def members_add(who: str, role: str, namespace_name: str | None, server: str | None) -> None:
    """Give WHO (an email or user id) ROLE in the namespace; a member already there gets the
    new role.

    \b
    Example:
      floww namespace members add ada@example.com developer
    """
    name, path = _members_path(server, namespace_name)
    made = session(server).api.put(f"{path}/{_seg(who)}", {"role": role})
    click.echo(f"{who} is {made['role']} of namespace {name}.")


@members.command("remove")
@click.argument("who")
@_NAMESPACE
@server_option
@handle_errors()
def members_remove(who: str, namespace_name: str | None, server: str | None) -> None:
    """Take WHO's access to the namespace away (their API keys for it stop too).

    \b
    Example:
      floww namespace members remove eve@example.com
    """
    name, path = _members_path(server, namespace_name)
    session(server).api.delete(f"{path}/{_seg(who)}")
    click.echo(f"{who} is no longer a member of namespace {name}.")


# your account -----------------------------------------------------------------------------


@click.group()
def account() -> None:
    """Your own account."""


@account.command("password")
@server_option
@handle_errors()
def password(server: str | None) -> None:
    """Change your password (asks for the current one and the new one twice).

    \b
    Example:
      floww account password
    """
    current = click.prompt("Current password", hide_input=True)
    new = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    session(server).api.put(
        "/api/account/password", {"current_password": current, "new_password": new}
    )
    click.echo("Password changed.")
