"""Roles and token scopes through the HTTP API (the tenant isolation test's second half): an
owner adds members; a viewer reads but cannot deploy; a developer deploys and runs but reads no
secret and manages no member or provider; a disabled user is refused at once; API keys do what
their scope allows; execution and registry tokens reach only what they are for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from conftest import make_world

if TYPE_CHECKING:
    from conftest import Tenant, World

SECRET = "owner-only-secret"


@attrs.frozen
class Team:
    world: World
    owner: Tenant
    viewer: dict[str, str]
    developer: dict[str, str]
    developer_id: str
    admin: dict[str, str]


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def team() -> Iterator[Team]:
    for world in make_world():
        app: Any = world.client.app
        services = app.state.services
        app.state.services = attrs.evolve(
            services, deps=attrs.evolve(services.deps, api_keys=world.auth, users=world.auth)
        )
        owner = world.tenant("owner@example.com", "team")
        world.deploy_hello(owner)
        put = world.client.put(
            f"/api/namespaces/{owner.namespace_id}/providers/secret/default",
            json={"config": {"key": SECRET}},
            headers=owner.headers,
        )
        assert put.status_code == 200, put.text
        tokens = {}
        for email, role in (("viewer@example.com", "viewer"), ("dev@example.com", "developer")):
            user = world.auth.create_user(email)
            tokens[role] = world.auth.issue_token(user)
            added = world.client.put(
                f"/api/namespaces/{owner.namespace_id}/members/{email}",
                json={"role": role},
                headers=owner.headers,
            )
            assert added.status_code == 200, added.text
            assert added.json() == {
                "namespace_id": owner.namespace_id,
                "user_id": user.id,
                "role": role,
            }
        admin = world.auth.create_user("admin@example.com", admin=True)
        yield Team(
            world,
            owner,
            _headers(tokens["viewer"]),
            _headers(tokens["developer"]),
            world.auth.find_account("dev@example.com").id,  # type: ignore[union-attr]
            _headers(world.auth.issue_token(admin)),
        )


def _deploy_status(team: Team, headers: dict[str, str]) -> int:
    owner = team.owner
    listed = team.world.client.get(
        f"/api/workflows/{owner.workflow_id}/deployments", headers=owner.headers
    ).json()["items"]
    answer = team.world.client.post(
        f"/api/workflows/{owner.workflow_id}/deployments/{listed[0]['id']}/activate",
        headers=headers,
    )
    return answer.status_code


def test_members_are_listed_with_their_roles(team: Team) -> None:
    client, ns = team.world.client, team.owner.namespace_id
    for headers in (team.owner.headers, team.viewer, team.developer):
        listed = client.get(f"/api/namespaces/{ns}/members", headers=headers)
        assert listed.status_code == 200, listed.text
        assert sorted(m["role"] for m in listed.json()["items"]) == [
            "developer",
            "owner",
            "viewer",
        ]


def test_a_viewer_reads_but_cannot_deploy_or_run(team: Team) -> None:
    client, owner = team.world.client, team.owner
    assert client.get(f"/api/workflows/{owner.workflow_id}", headers=team.viewer).status_code == 200
    executions = client.get(f"/api/workflows/{owner.workflow_id}/executions", headers=team.viewer)
    assert executions.status_code == 200
    created = client.post(
        f"/api/namespaces/{owner.namespace_id}/workflows", json={"name": "x"}, headers=team.viewer
    )
    assert created.status_code == 403
    assert "viewer" in created.json()["error"]["message"]
    assert _deploy_status(team, team.viewer) == 403
    run = client.post(
        f"/api/workflows/{owner.workflow_id}/manual/greet", json={"input": {}}, headers=team.viewer
    )
    assert run.status_code == 403
    kv = client.put(
        f"/api/kv/k?namespace={owner.namespace_id}", json={"value": 1}, headers=team.viewer
    )
    assert kv.status_code == 403


def test_a_developer_deploys_but_reads_no_secret_and_manages_no_one(team: Team) -> None:
    client, ns = team.world.client, team.owner.namespace_id
    assert _deploy_status(team, team.developer) == 200
    configs = client.get(f"/api/namespaces/{ns}/provider-configs", headers=team.developer)
    assert configs.status_code == 200
    assert SECRET not in configs.text and "secret:default" in configs.json()["providers"]
    owner_configs = client.get(f"/api/namespaces/{ns}/provider-configs", headers=team.owner.headers)
    assert owner_configs.json()["providers"]["secret:default"] == {"key": SECRET}
    put = client.put(
        f"/api/namespaces/{ns}/providers/secret/default",
        json={"config": {"key": "changed"}},
        headers=team.developer,
    )
    assert put.status_code == 403
    promote = client.put(
        f"/api/namespaces/{ns}/members/dev@example.com",
        json={"role": "owner"},
        headers=team.developer,
    )
    assert promote.status_code == 403
    remove = client.delete(
        f"/api/namespaces/{ns}/members/viewer@example.com", headers=team.developer
    )
    assert remove.status_code == 403
    full_key = client.post(
        f"/api/namespaces/{ns}/api-keys",
        json={"name": "ci", "scope": "full"},
        headers=team.developer,
    )
    assert full_key.status_code == 403
    roles = client.get(f"/api/namespaces/{ns}/members", headers=team.owner.headers).json()
    assert {m["role"] for m in roles["items"]} == {"owner", "developer", "viewer"}


def test_a_removed_member_loses_the_namespace_and_their_keys_at_once(team: Team) -> None:
    client, ns = team.world.client, team.owner.namespace_id
    key = client.post(
        f"/api/namespaces/{ns}/api-keys", json={"name": "ci"}, headers=team.developer
    ).json()["key"]
    assert client.get(f"/api/namespaces/{ns}", headers=_headers(key)).status_code == 200
    gone = client.delete(
        f"/api/namespaces/{ns}/members/{team.developer_id}", headers=team.owner.headers
    )
    assert gone.status_code == 204
    assert client.get(f"/api/namespaces/{ns}", headers=team.developer).status_code == 404
    assert client.get(f"/api/namespaces/{ns}", headers=_headers(key)).status_code == 404


def test_a_removed_member_s_dev_token_stops_at_once(team: Team) -> None:
    """A dev session's token names its person: removing them from the namespace ends the
    session's access to the KV store at once, not when the 12 h token expires."""
    client, owner = team.world.client, team.owner
    issued = client.post(f"/api/workflows/{owner.workflow_id}/dev-token", headers=team.developer)
    assert issued.status_code == 201, issued.text
    dev = _headers(issued.json()["token"])
    assert client.put("/api/kv/k", json={"value": 1}, headers=dev).status_code in (200, 204)
    owners = client.post(f"/api/workflows/{owner.workflow_id}/dev-token", headers=owner.headers)
    owners_token = _headers(owners.json()["token"])
    gone = client.delete(
        f"/api/namespaces/{owner.namespace_id}/members/{team.developer_id}",
        headers=owner.headers,
    )
    assert gone.status_code == 204
    assert client.put("/api/kv/k", json={"value": 2}, headers=dev).status_code == 403
    assert client.get("/api/kv/k", headers=dev).status_code == 403
    assert client.get("/api/kv/k", headers=owners_token).json()["value"] == 1


def test_the_last_owner_stays(team: Team) -> None:
    client, owner = team.world.client, team.owner
    ns = owner.namespace_id
    demote = client.put(
        f"/api/namespaces/{ns}/members/{owner.user.id}",
        json={"role": "viewer"},
        headers=owner.headers,
    )
    assert demote.status_code == 409
    assert "owner" in demote.json()["error"]["message"]
    unknown = client.put(
        f"/api/namespaces/{ns}/members/nobody@example.com",
        json={"role": "viewer"},
        headers=owner.headers,
    )
    assert unknown.status_code == 404
    bad_role = client.put(
        f"/api/namespaces/{ns}/members/dev@example.com", json={"role": "god"}, headers=owner.headers
    )
    assert bad_role.status_code == 400 and "developer" in bad_role.json()["error"]["message"]


def test_a_disabled_user_is_refused_at_once(team: Team) -> None:
    client, ns = team.world.client, team.owner.namespace_id
    key = client.post(
        f"/api/namespaces/{ns}/api-keys", json={"name": "ci"}, headers=team.developer
    ).json()["key"]
    refused = client.post(f"/api/users/{team.developer_id}/disable", headers=team.owner.headers)
    assert refused.status_code == 403  # an owner of a namespace is no administrator
    disabled = client.post(f"/api/users/{team.developer_id}/disable", headers=team.admin)
    assert disabled.status_code == 200 and disabled.json()["user"]["disabled"] is True
    assert client.get("/api/namespaces", headers=team.developer).status_code == 401
    assert client.get(f"/api/namespaces/{ns}", headers=_headers(key)).status_code == 401
    listed = client.get("/api/users", headers=team.admin).json()["items"]
    assert {u["email"]: u["disabled"] for u in listed}["dev@example.com"] is True
    client.post(f"/api/users/{team.developer_id}/enable", headers=team.admin)
    assert client.get(f"/api/namespaces/{ns}", headers=_headers(key)).status_code == 200


def test_an_administrator_invites_and_a_user_changes_their_password(team: Team) -> None:
    client = team.world.client
    invited = client.post("/api/users", json={"email": "new@example.com"}, headers=team.admin)
    assert invited.status_code == 201, invited.text
    first = invited.json()["initial_password"]
    assert len(first) >= 12
    again = client.post("/api/users", json={"email": "NEW@example.com"}, headers=team.admin)
    assert again.status_code == 409
    assert (
        client.post("/api/users", json={"email": "x@y.z"}, headers=team.viewer).status_code == 403
    )
    user = team.world.auth.find_account("new@example.com")
    assert user is not None
    token = _headers(team.world.auth.issue_token(team.world.auth.create_user("new@example.com")))
    wrong = client.put(
        "/api/account/password",
        json={"current_password": "nope-nope", "new_password": "a new password"},
        headers=token,
    )
    assert wrong.status_code == 401
    short = client.put(
        "/api/account/password",
        json={"current_password": first, "new_password": "short"},
        headers=token,
    )
    assert short.status_code == 400
    changed = client.put(
        "/api/account/password",
        json={"current_password": first, "new_password": "a new password"},
        headers=token,
    )
    assert changed.status_code == 204


def test_api_key_scopes(team: Team) -> None:
    client, owner = team.world.client, team.owner
    ns = owner.namespace_id
    keys = {
        scope: _headers(
            client.post(
                f"/api/namespaces/{ns}/api-keys",
                json={"name": scope, "scope": scope},
                headers=owner.headers,
            ).json()["key"]
        )
        for scope in ("read", "deploy", "full")
    }
    assert (
        client.get(f"/api/workflows/{owner.workflow_id}", headers=keys["read"]).status_code == 200
    )
    assert _deploy_status(team, keys["read"]) == 403
    assert _deploy_status(team, keys["deploy"]) == 200
    for scope in ("read", "deploy"):
        configs = client.get(f"/api/namespaces/{ns}/provider-configs", headers=keys[scope])
        assert SECRET not in configs.text
    full = client.get(f"/api/namespaces/{ns}/provider-configs", headers=keys["full"])
    assert full.json()["providers"]["secret:default"] == {"key": SECRET}
    unknown = client.post(
        f"/api/namespaces/{ns}/api-keys", json={"name": "x", "scope": "root"}, headers=owner.headers
    )
    assert unknown.status_code == 400 and "full" in unknown.json()["error"]["message"]
    # a key never manages keys or members, whatever its scope
    assert (
        client.post(
            f"/api/namespaces/{ns}/api-keys", json={"name": "y"}, headers=keys["full"]
        ).status_code
        == 403
    )
    members = f"/api/namespaces/{ns}/members"
    promoted = client.put(
        f"{members}/dev@example.com", json={"role": "owner"}, headers=keys["full"]
    )
    assert promoted.status_code == 403, promoted.text
    removed = client.delete(f"{members}/dev@example.com", headers=keys["full"])
    assert removed.status_code == 403, removed.text
    listed = client.get(members, headers=owner.headers).json()["items"]
    roles = {m["user_id"]: m["role"] for m in listed}
    assert roles[team.developer_id] == "developer"


def test_no_membership_waits_for_an_account_that_does_not_exist(team: Team) -> None:
    client, owner = team.world.client, team.owner
    ghost = client.put(
        f"/api/namespaces/{owner.namespace_id}/members/usr_ghost",
        json={"role": "owner"},
        headers=owner.headers,
    )
    assert ghost.status_code == 404, ghost.text


def test_an_execution_token_reaches_its_kv_and_nothing_else(team: Team) -> None:
    client, owner = team.world.client, team.owner
    token = _headers(
        team.world.deps.tokens.issue_execution_token(
            namespace_id=owner.namespace_id,
            workflow_id=owner.workflow_id,
            execution_id="ex_1",
            ttl_seconds=60,
        )
    )
    assert client.put("/api/kv/k", json={"value": 1}, headers=token).status_code in (200, 204)
    assert client.get("/api/kv/k", headers=token).json()["value"] == 1
    deployed = client.get(
        f"/api/workflows/{owner.workflow_id}/deployments", headers=owner.headers
    ).json()["items"][0]
    digest = deployed["code"]["digest"]
    code = client.get(f"/api/workflows/{owner.workflow_id}/code/{digest}", headers=token)
    assert code.status_code == 200 and code.json()["digest"] == digest
    for path in (
        f"/api/workflows/{owner.workflow_id}",
        f"/api/workflows/{owner.workflow_id}/executions",
        f"/api/workflows/{owner.workflow_id}/deployments",
        f"/api/namespaces/{owner.namespace_id}/provider-configs",
        f"/api/namespaces/{owner.namespace_id}/executions",
        "/api/namespaces",
    ):
        answer = client.get(path, headers=token)
        assert answer.status_code == 403, (path, answer.text)
        assert SECRET not in answer.text


def test_a_registry_push_token_opens_nothing_of_the_api(team: Team) -> None:
    client, owner = team.world.client, team.owner
    token = _headers(
        team.world.deps.tokens.issue_registry_token(
            namespace_id=owner.namespace_id,
            repository=f"floww/{owner.namespace_id}",
            ttl_seconds=60,
        )
    )
    for path in ("/api/whoami", "/api/namespaces", f"/api/namespaces/{owner.namespace_id}"):
        answer = client.get(path, headers=token)
        assert answer.status_code in (403, 404), (path, answer.text)
    assert client.get("/api/whoami", headers=owner.headers).status_code == 200
