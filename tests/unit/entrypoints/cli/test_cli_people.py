"""`floww users`, `floww namespace members`, `floww account password` and `floww logout`
over the real app on the in-memory adapters."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from floww.domain.errors import Unauthenticated
from tests.unit.entrypoints.cli.conftest import SERVER, World


@pytest.fixture
def people(world: World) -> World:
    """The CLI world, with the server managing accounts as the composition root does."""
    app: Any = world.client.app
    services = app.state.services
    app.state.services = attrs.evolve(
        services, deps=attrs.evolve(services.deps, users=world.auth, api_keys=world.auth)
    )
    world.login()
    return world


def _ok(world: World, *args: str, **kwargs: Any) -> Any:
    result = world.run(*args, **kwargs)
    assert result.exit_code == 0, result.output
    return result


def test_an_administrator_invites_a_user_and_an_owner_gives_them_a_role(people: World) -> None:
    world = people
    added = _ok(world, "users", "add", "bob@example.com")
    assert "One-time password" in added.output
    listed = json.loads(_ok(world, "users", "list", "--json").stdout)
    bob = next(u for u in listed if u["email"] == "bob@example.com")
    assert bob["disabled"] is False and bob["admin"] is False

    _ok(world, "namespace", "members", "add", "bob@example.com", "viewer")
    members = json.loads(_ok(world, "namespace", "members", "list", "--json").stdout)
    assert {m["user_id"]: m["role"] for m in members} == {
        world.user.id: "owner",
        bob["id"]: "viewer",
    }
    _ok(world, "namespace", "members", "add", bob["id"], "developer")
    assert world.repo.get_member(world.namespace_id, bob["id"]).role == "developer"  # type: ignore[union-attr]

    bad_role = world.run("namespace", "members", "add", "bob@example.com", "god")
    assert bad_role.exit_code == 2 and "owner" in bad_role.output
    stranger = world.run("namespace", "members", "add", "nobody@example.com", "viewer")
    assert stranger.exit_code != 0 and "nobody@example.com" in stranger.output
    last_owner = world.run("namespace", "members", "remove", "ada@example.com")
    assert last_owner.exit_code != 0 and "owner" in last_owner.output

    token = world.auth.issue_token(world.auth.create_user("bob@example.com"))
    assert world.auth.verify(token).id == bob["id"]
    _ok(world, "users", "disable", "bob@example.com")
    with pytest.raises(Unauthenticated):
        world.auth.verify(token)
    _ok(world, "namespace", "members", "remove", "bob@example.com")
    assert world.repo.get_member(world.namespace_id, bob["id"]) is None


def test_users_needs_an_administrator(people: World) -> None:
    world = people
    world.auth.add_user("eve@example.com", "a password!")
    eve = world.auth.create_user("eve@example.com")
    world.env_vars.update({"FLOWW_TOKEN": world.auth.issue_token(eve), "FLOWW_SERVER": SERVER})
    refused = world.run("users", "list")
    assert refused.exit_code != 0 and "administrator" in refused.output


def test_a_wrong_current_password_is_refused_with_a_sentence(people: World) -> None:
    refused = people.run("account", "password", input="wrong-one\nnew password\nnew password\n")
    assert refused.exit_code != 0
    assert "current password is wrong" in refused.output
    assert "Traceback" not in refused.output


def test_logout_revokes_the_login_on_the_server(people: World) -> None:
    world = people
    stored = world.env().store.credentials(SERVER)
    assert stored is not None
    access = stored.access_token
    assert world.auth.verify(access).id == world.user.id
    out = _ok(world, "logout")
    assert "the server ended this login" in out.output
    with pytest.raises(Unauthenticated):
        world.auth.verify(access)
    assert "not logged in" in _ok(world, "logout").output


def test_api_keys_are_made_with_a_scope(people: World) -> None:
    world = people
    made = json.loads(
        _ok(world, "api-keys", "create", "dashboards", "--scope", "read", "--json").stdout
    )
    assert made["api_key"]["scope"] == "read"
    assert world.auth.verify(made["key"]).scopes == ("read",)
    bad = world.run("api-keys", "create", "x", "--scope", "root")
    assert bad.exit_code == 2 and "full" in bad.output
