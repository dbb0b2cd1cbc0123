"""Tenant isolation: a principal of namespace A gets 404 (or 403) on every object of namespace
B, through every route and verb, and nothing of B changes. A route added to the app without
being listed here (or among the routes that hold no tenant object) fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from conftest import hello_code, make_world
from starlette.routing import Route

from floww.domain.model import TriggerSource

if TYPE_CHECKING:
    from conftest import Tenant, World

# (method, route path, concrete path, JSON body).
# Placeholders: {ns} {wf} {exe} {hash} {rt} {key} {dep} of B, and {own_ns} / {own_wf}: the
# caller's namespace and workflow.
CASES: list[tuple[str, str, str, Any]] = [
    ("GET", "/api/namespaces/{namespace_id}", "/api/namespaces/{ns}", None),
    ("GET", "/api/namespaces/{namespace_id}/workflows", "/api/namespaces/{ns}/workflows", None),
    (
        "POST",
        "/api/namespaces/{namespace_id}/workflows",
        "/api/namespaces/{ns}/workflows",
        {"name": "intruder"},
    ),
    ("GET", "/api/workflows/{workflow_id}", "/api/workflows/{wf}", None),
    ("GET", "/api/namespaces/{namespace_id}/providers", "/api/namespaces/{ns}/providers", None),
    (
        "PUT",
        "/api/namespaces/{namespace_id}/providers/{provider_type}/{alias}",
        "/api/namespaces/{ns}/providers/secret/default",
        {"config": {"key": "overwritten"}},
    ),
    (
        "DELETE",
        "/api/namespaces/{namespace_id}/providers/{provider_type}/{alias}",
        "/api/namespaces/{ns}/providers/secret/default",
        None,
    ),
    (
        "GET",
        "/api/namespaces/{namespace_id}/provider-configs",
        "/api/namespaces/{ns}/provider-configs",
        None,
    ),
    (
        "GET",
        "/api/namespaces/{namespace_id}/runtimes/{spec_hash}",
        "/api/namespaces/{ns}/runtimes/{hash}",
        None,
    ),
    (
        "POST",
        "/api/namespaces/{namespace_id}/runtimes",
        "/api/namespaces/{ns}/runtimes",
        {"spec_hash": "{hash}", "image_ref": "floww/x:{hash}"},
    ),
    (
        "POST",
        "/api/workflows/{workflow_id}/deployments",
        "/api/workflows/{wf}/deployments",
        "DEPLOY",
    ),
    ("GET", "/api/workflows/{workflow_id}/deployments", "/api/workflows/{wf}/deployments", None),
    (
        "GET",
        "/api/workflows/{workflow_id}/code/{digest}",
        "/api/workflows/{wf}/code/" + hello_code().digest,
        None,
    ),
    (
        "POST",
        "/api/workflows/{workflow_id}/deployments/plan",
        "/api/workflows/{wf}/deployments/plan",
        {"triggers": []},
    ),
    (
        "POST",
        "/api/workflows/{workflow_id}/deployments/{deployment_id}/activate",
        "/api/workflows/{wf}/deployments/{dep}/activate",
        None,
    ),
    (  # B's deployment, addressed through the caller's own workflow
        "POST",
        "/api/workflows/{workflow_id}/deployments/{deployment_id}/activate",
        "/api/workflows/{own_wf}/deployments/{dep}/activate",
        None,
    ),
    (
        "POST",
        "/api/workflows/{workflow_id}/deployments/rollback",
        "/api/workflows/{wf}/deployments/rollback",
        None,
    ),
    (
        "POST",
        "/api/workflows/{workflow_id}/deployments/deactivate",
        "/api/workflows/{wf}/deployments/deactivate",
        None,
    ),
    ("DELETE", "/api/workflows/{workflow_id}", "/api/workflows/{wf}", None),
    ("GET", "/api/workflows/{workflow_id}/executions", "/api/workflows/{wf}/executions", None),
    ("GET", "/api/executions/{execution_id}", "/api/executions/{exe}", None),
    ("POST", "/api/executions/{execution_id}/rerun", "/api/executions/{exe}/rerun", None),
    ("POST", "/api/executions/{execution_id}/cancel", "/api/executions/{exe}/cancel", None),
    ("GET", "/api/executions/{execution_id}/trigger", "/api/executions/{exe}/trigger", None),
    ("GET", "/api/namespaces/{namespace_id}/executions", "/api/namespaces/{ns}/executions", None),
    (
        "POST",
        "/api/workflows/{workflow_id}/manual/{name}",
        "/api/workflows/{wf}/manual/greet",
        {"input": {"name": "x"}},
    ),
    (
        "POST",
        "/api/namespaces/{namespace_id}/registry-credentials",
        "/api/namespaces/{ns}/registry-credentials",
        {"repository": "floww/{ns}"},
    ),
    ("GET", "/api/namespaces/{namespace_id}/api-keys", "/api/namespaces/{ns}/api-keys", None),
    (
        "POST",
        "/api/namespaces/{namespace_id}/api-keys",
        "/api/namespaces/{ns}/api-keys",
        {"name": "intruder"},
    ),
    (
        "DELETE",
        "/api/namespaces/{namespace_id}/api-keys/{key_id}",
        "/api/namespaces/{ns}/api-keys/{key}",
        None,
    ),
    (  # B's key, addressed through the caller's own namespace
        "DELETE",
        "/api/namespaces/{namespace_id}/api-keys/{key_id}",
        "/api/namespaces/{own_ns}/api-keys/{key}",
        None,
    ),
    ("GET", "/api/namespaces/{namespace_id}/members", "/api/namespaces/{ns}/members", None),
    (
        "PUT",
        "/api/namespaces/{namespace_id}/members/{user}",
        "/api/namespaces/{ns}/members/a@example.com",
        {"role": "owner"},
    ),
    (
        "DELETE",
        "/api/namespaces/{namespace_id}/members/{user}",
        "/api/namespaces/{ns}/members/{b_user}",
        None,
    ),
    ("GET", "/api/kv", "/api/kv?namespace={ns}&prefix=", None),
    ("GET", "/api/kv/{key:path}", "/api/kv/secret-key?namespace={ns}", None),
    ("PUT", "/api/kv/{key:path}", "/api/kv/secret-key?namespace={ns}", {"value": "overwritten"}),
    ("DELETE", "/api/kv/{key:path}", "/api/kv/secret-key?namespace={ns}", None),
    (
        "PUT",
        "/api/workflows/{workflow_id}/dev-triggers",
        "/api/workflows/{wf}/dev-triggers",
        {"triggers": []},
    ),
    (
        "DELETE",
        "/api/workflows/{workflow_id}/dev-triggers",
        "/api/workflows/{wf}/dev-triggers",
        None,
    ),
    (
        "DELETE",
        "/api/workflows/{workflow_id}/dev-sessions/{session_id}",
        "/api/workflows/{wf}/dev-sessions/default",
        None,
    ),
    (
        "POST",
        "/api/workflows/{workflow_id}/dev-sessions/{session_id}/lease",
        "/api/workflows/{wf}/dev-sessions/default/lease",
        None,
    ),
    ("POST", "/api/workflows/{workflow_id}/dev-token", "/api/workflows/{wf}/dev-token", None),
    (
        "POST",
        "/api/dev/replies/{execution_id}",
        "/api/dev/replies/{exe}",
        {"token": "t", "result": {"ok": True, "result": "forged"}},
    ),
    (
        "POST",
        "/api/executions/{execution_id}/report",
        "/api/executions/{exe}/report",
        {"result": {"ok": True, "result": "forged"}},
    ),
]

# Routes that hold no object of a tenant, and why.
NOT_TENANT_SCOPED = {
    ("GET", "/api/config"): "public server configuration",
    ("GET", "/api/openapi.json"): "public API description",
    ("GET", "/api/whoami"): "the caller itself",
    ("POST", "/api/auth/device"): "starts a login; no tenant yet",
    ("POST", "/api/auth/token"): "finishes a login; no tenant yet",
    ("GET", "/api/namespaces"): "lists only the caller's own namespaces (tested below)",
    ("POST", "/api/namespaces"): "creates a namespace the caller owns",
    ("GET", "/api/provider-types"): "the server's catalogue, the same for everyone",
    ("GET", "/api/provider-types/{provider_type}"): "the server's catalogue",
    ("GET", "/api/users"): "administrators only (test_http_roles)",
    ("POST", "/api/users"): "administrators only (test_http_roles)",
    ("POST", "/api/users/{user_id}/disable"): "administrators only (test_http_roles)",
    ("POST", "/api/users/{user_id}/enable"): "administrators only (test_http_roles)",
    ("PUT", "/api/account/password"): "the caller's own password",
    ("POST", "/api/auth/logout"): "the caller's own login",
    ("GET", "/device"): "the login page",
    ("POST", "/device"): "the login page",
}
WEBHOOK_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[World, Tenant, Tenant, dict[str, str], dict[str, str]]]:
    for world in make_world():
        app: Any = world.client.app  # serve API keys, as the composition root does
        services = app.state.services
        app.state.services = attrs.evolve(
            services, deps=attrs.evolve(services.deps, api_keys=world.auth, users=world.auth)
        )
        a = world.tenant("a@example.com", "tenant-a")
        b = world.tenant("b@example.com", "tenant-b")
        receipt_b = world.deploy_hello(b)
        world.deploy_hello(a)
        call = world.client.post(f"/webhook/{b.workflow_id}/hello/bea")
        assert call.status_code == 200
        world.client.put(
            f"/api/namespaces/{b.namespace_id}/providers/secret/default",
            json={"config": {"key": "b-secret"}},
            headers=b.headers,
        )
        world.client.put(
            f"/api/workflows/{b.workflow_id}/dev-triggers",
            json={"triggers": world.hello_specs()},
            headers=b.headers,
        )
        world.repo.kv_put(b.namespace_id, "secret-key", "b-value", world.deps.clock.now())
        key_b = world.client.post(
            f"/api/namespaces/{b.namespace_id}/api-keys", json={"name": "b-ci"}, headers=b.headers
        )
        assert key_b.status_code == 201, key_b.text
        key_a = world.client.post(
            f"/api/namespaces/{a.namespace_id}/api-keys", json={"name": "a-ci"}, headers=a.headers
        ).json()["key"]
        ids = {
            "own_ns": a.namespace_id,
            "own_wf": a.workflow_id,
            "dep": receipt_b["deployment"]["id"],
            "ns": b.namespace_id,
            "key": key_b.json()["api_key"]["id"],
            "key_secret": key_b.json()["key"],
            "wf": b.workflow_id,
            "exe": call.headers["x-floww-execution-id"],
            "hash": receipt_b["runtime"]["spec_hash"],
            "rt": receipt_b["runtime"]["id"],
            "b_user": b.user.id,
        }
        exec_token = world.deps.tokens.issue_execution_token(
            namespace_id=a.namespace_id,
            workflow_id=a.workflow_id,
            execution_id="exe_a",
            ttl_seconds=600,
        )
        push_token = world.deps.tokens.issue_registry_token(
            namespace_id=a.namespace_id,
            repository=f"floww/{a.namespace_id}",
            ttl_seconds=600,
        )
        full_key_a = world.client.post(
            f"/api/namespaces/{a.namespace_id}/api-keys",
            json={"name": "a-full", "scope": "full"},
            headers=a.headers,
        ).json()["key"]
        principals = {
            "user": a.headers,
            "execution": {"Authorization": f"Bearer {exec_token}"},
            "api_key": {"Authorization": f"Bearer {key_a}"},
            "full_api_key": {"Authorization": f"Bearer {full_key_a}"},
            "registry": {"Authorization": f"Bearer {push_token}"},
        }
        yield world, a, b, ids, principals


_LONG_AGO = datetime.min.replace(tzinfo=UTC)


def _b_state(world: World, b: Tenant) -> Any:
    return (
        [(p.ref.key, dict(p.config)) for p in world.repo.list_providers(b.namespace_id)],
        [(i.key, i.value) for i in world.repo.kv_list(b.namespace_id)],
        sorted(t.id for t in world.repo.list_triggers(b.workflow_id, TriggerSource.DEV)),
        [(d.id, d.status) for d in world.repo.list_deployments(b.workflow_id)],
        sorted(t.id for t in world.repo.list_triggers(b.workflow_id, TriggerSource.DEPLOYMENT)),
        [
            r.id
            for r in (
                world.repo.get_runtime(d.runtime_id)
                for d in world.repo.list_deployments(b.workflow_id)
            )
        ],
        [w.name for w in world.repo.list_workflows(b.namespace_id)],
        len(world.repo.list_executions(b.workflow_id)),
        world.auth.list_api_keys(b.user),
        world.repo.list_members(b.namespace_id),
        [  # B's dev session and its lease: neither ended nor renewed by A
            (lease.session_id, lease.expires_at)
            for lease in world.deps.dev_sessions.live(
                b.workflow_id, datetime.min.replace(tzinfo=UTC)
            )
        ],
    )


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, concrete in ids.items():
            value = value.replace("{" + name + "}", concrete)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("principal", ["user", "execution", "api_key", "full_api_key", "registry"])
@pytest.mark.parametrize(
    ("method", "route", "path", "body"), CASES, ids=[f"{m} {r}" for m, r, _, _ in CASES]
)
def test_other_tenants_objects_are_out_of_reach(
    setup: Any, principal: str, method: str, route: str, path: str, body: Any
) -> None:
    world, a, b, ids, principals = setup
    before = _b_state(world, b)
    if body == "DEPLOY":
        rt = world.client.post(  # A's own runtime, aimed at B's workflow
            f"/api/namespaces/{a.namespace_id}/runtimes",
            json={"spec_hash": ids["hash"], "image_ref": f"floww/{a.namespace_id}:x"},
            headers=a.headers,
        ).json()
        body = {"runtime_id": rt["id"], "code": {"entrypoint": "main.py", "files": {}}}
    answer = world.client.request(
        method, _fill(path, ids), json=_fill(body, ids), headers=principals[principal]
    )
    assert answer.status_code in (403, 404), answer.text
    for secret in ("b-secret", "b-value", "hi bea", ids["key_secret"]):
        assert secret not in answer.text
    assert _b_state(world, b) == before


def test_every_route_is_listed() -> None:
    for world in make_world():
        listed = {(m, r) for m, r, _, _ in CASES} | set(NOT_TENANT_SCOPED)
        for route in world.client.app.routes:  # type: ignore[attr-defined]
            assert isinstance(route, Route)
            if route.path.startswith("/webhook/"):
                assert set(route.methods or ()) - {"HEAD"} == WEBHOOK_METHODS
                continue  # public ingress; the workflow id in the path is the address
            for method in set(route.methods or ()) - {"HEAD"}:
                assert (method, route.path) in listed, f"{method} {route.path} is not listed"


def test_namespace_list_shows_only_ones_own(setup: Any) -> None:
    world, a, _, _, _ = setup
    names = [
        n["name"] for n in world.client.get("/api/namespaces", headers=a.headers).json()["items"]
    ]
    assert names == ["tenant-a"]


def test_the_webhook_of_b_answers_b_only_by_its_own_id(setup: Any) -> None:
    world, a, _, _, _ = setup
    # A's workflow id with B's path shape reaches A's deployment, never B's.
    answer = world.client.post(f"/webhook/{a.workflow_id}/hello/x")
    assert answer.status_code == 200
    execution_id = answer.headers["x-floww-execution-id"]
    assert world.repo.get_execution(execution_id).workflow_id == a.workflow_id
