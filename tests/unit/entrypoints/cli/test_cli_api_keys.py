"""`floww api-keys`: create a key, deploy with it as FLOWW_TOKEN, revoke it; over the real app
on the in-memory adapters."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from floww.domain.errors import PermissionDenied, Unauthenticated
from floww.entrypoints.cli.errors import FlowwClickError
from tests.unit.entrypoints.cli.conftest import SERVER, World, hello_project


@pytest.fixture
def keys_world(world: World) -> World:
    """The CLI world, with the server serving API keys as the composition root does."""
    app: Any = world.client.app
    services = app.state.services
    app.state.services = attrs.evolve(
        services, deps=attrs.evolve(services.deps, api_keys=world.auth)
    )
    return world


def _ok(world: World, *args: str, **kwargs: Any) -> Any:
    result = world.run(*args, **kwargs)
    assert result.exit_code == 0, result.output
    return result


def _as_ci(world: World, key: str) -> None:
    """Only the environment: no stored login."""
    _ok(world, "logout")
    world.env_vars.update({"FLOWW_TOKEN": key, "FLOWW_SERVER": SERVER})


def test_create_deploy_with_the_key_revoke_and_the_key_is_refused(keys_world: World) -> None:
    world = keys_world
    world.login()
    project = hello_project(world)
    made = json.loads(_ok(world, "api-keys", "create", "github-actions", "--json").stdout)
    key, info = made["key"], made["api_key"]
    assert key.startswith("floww_") and info["name"] == "github-actions"

    _as_ci(world, key)
    deployed = json.loads(_ok(world, "deploy", "--yes", "--json", cwd=project).stdout)
    assert deployed["webhook_urls"]
    listed = json.loads(_ok(world, "workflows", "list", "--json").stdout)
    assert [w["name"] for w in listed] == ["hello"]

    world.env_vars.pop("FLOWW_TOKEN")
    world.login()
    revoked = _ok(world, "api-keys", "revoke", info["id"])
    assert info["id"] in revoked.output
    assert json.loads(_ok(world, "api-keys", "list", "--json").stdout) == []

    world.env_vars["FLOWW_TOKEN"] = key
    refused = world.run("workflows", "list")
    assert refused.exit_code == 77
    assert "run `floww login` or use another key" in refused.output
    assert key not in refused.output
    with pytest.raises(FlowwClickError) as raised:
        world.run_raw("workflows", "list")
    assert isinstance(raised.value.__cause__, Unauthenticated)
    deploy = world.run("deploy", "--yes", cwd=project)
    assert deploy.exit_code == 77
    assert "run `floww login` or use another key" in deploy.output
    assert len(world.repo.list_deployments(deployed["workflow"]["id"])) == 1


def test_create_prints_the_key_once_with_how_to_use_it(keys_world: World) -> None:
    world = keys_world
    world.login()
    result = _ok(world, "api-keys", "create", "ci")
    keys = [word for word in result.stdout.split() if word.startswith("floww_")]
    assert len(keys) == 1
    assert world.auth.verify(keys[0]).namespace_id == world.namespace_id
    assert "will not be shown again" in result.stdout
    assert "FLOWW_TOKEN=" in result.stdout and "floww deploy --yes" in result.stdout


def test_the_list_never_contains_the_key(keys_world: World) -> None:
    world = keys_world
    world.login()
    key = json.loads(_ok(world, "api-keys", "create", "ci", "--json").stdout)["key"]
    table = _ok(world, "api-keys", "list").stdout
    assert "ci" in table and key[-4:] in table
    assert key not in table and key[6:-4] not in table
    doc = _ok(world, "api-keys", "list", "--json").stdout
    assert key not in doc and key[6:-4] not in doc
    assert [k["name"] for k in json.loads(doc)] == ["ci"]


def test_an_api_key_cannot_create_api_keys(keys_world: World) -> None:
    world = keys_world
    world.login()
    key = json.loads(_ok(world, "api-keys", "create", "ci", "--json").stdout)["key"]
    _as_ci(world, key)
    for args in (("create", "more"), ("list",), ("revoke", "key_x")):
        result = world.run("api-keys", *args)
        assert result.exit_code == 77, result.output
        assert "unset it and run `floww login`" in result.output
    with pytest.raises(FlowwClickError) as raised:
        world.run_raw("api-keys", "create", "more")
    assert isinstance(raised.value.__cause__, PermissionDenied)
    assert len(world.auth.list_api_keys(world.user)) == 1


def test_a_key_of_one_namespace_sees_nothing_of_another(keys_world: World) -> None:
    world = keys_world
    world.login()
    hello_project(world)
    token = world.auth.issue_token(world.user)
    other = world.client.post(
        "/api/namespaces", json={"name": "other"}, headers={"Authorization": f"Bearer {token}"}
    ).json()
    world.client.post(
        f"/api/namespaces/{other['id']}/workflows",
        json={"name": "secret-flow"},
        headers={"Authorization": f"Bearer {token}"},
    )
    _ok(world, "namespace", "select", "default")
    key = json.loads(_ok(world, "api-keys", "create", "ci", "--json").stdout)["key"]
    _as_ci(world, key)
    listed = _ok(world, "workflows", "list", "--json").stdout
    assert [w["name"] for w in json.loads(listed)] == ["hello"]
    shown = json.loads(_ok(world, "namespace", "show", "--json").stdout)
    assert "other" not in json.dumps(shown)
    result = world.run("workflows", "list", "--namespace", "other")
    assert result.exit_code == 66
    assert "secret-flow" not in result.output


def test_revoking_an_unknown_key_says_where_to_look(keys_world: World) -> None:
    world = keys_world
    world.login()
    result = world.run("api-keys", "revoke", "key_nope")
    assert result.exit_code == 66
    assert "floww api-keys list" in result.output


def test_a_server_without_api_keys_says_so(world: World) -> None:
    world.login()
    result = world.run("api-keys", "list")
    assert result.exit_code == 69
    assert "does not manage API keys" in result.output
