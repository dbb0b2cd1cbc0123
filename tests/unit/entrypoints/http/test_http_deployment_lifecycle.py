"""Deployment history, rollback, deactivation and workflow deletion through the HTTP API,
over the in-memory adapters."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conftest import hello_code

from floww.domain.model import CodeBundle, TriggerSource
from floww.sdk import wire

if TYPE_CHECKING:
    from conftest import Tenant, World


def _deploy_v2(world: World, tenant: Tenant, runtime_id: str) -> dict[str, Any]:
    """examples/hello with another greeting, on the same runtime."""
    v1 = hello_code()
    files = dict(v1.files)
    files["main.py"] = files["main.py"].replace('f"hi {name}"', 'f"v2 says hi {name}"')
    assert files["main.py"] != v1.files["main.py"]
    answer = world.client.post(
        f"/api/workflows/{tenant.workflow_id}/deployments",
        json={"runtime_id": runtime_id, "code": wire.code_to_wire(CodeBundle("main.py", files))},
        headers=tenant.headers,
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _greeting(world: World, tenant: Tenant) -> Any:
    answer = world.client.post(f"/webhook/{tenant.workflow_id}/hello/grace")
    return answer.status_code, answer.json()


def _answer_one_dev_call(world: World, tenant: Tenant) -> threading.Thread:
    subscription = world.realtime.subscribe(f"workflow:{tenant.workflow_id}")

    def dev_session() -> None:
        try:
            message = subscription.get(timeout=5)
            if message is None:
                return
            world.client.post(
                f"/api/dev/replies/{message['reply_to']}",
                json={
                    "token": message["token"],
                    "result": {"ok": True, "result": {"message": "dev answers"}, "logs": []},
                },
                headers=tenant.headers,
            )
        finally:
            subscription.close()

    worker = threading.Thread(target=dev_session, daemon=True)
    worker.start()
    return worker


def test_history_names_code_image_triggers_and_creator(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    first = world.deploy_hello(ada)
    second = _deploy_v2(world, ada, first["runtime"]["id"])
    listed = world.client.get(f"/api/workflows/{ada.workflow_id}/deployments", headers=ada.headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [d["id"] for d in items] == [second["deployment"]["id"], first["deployment"]["id"]]
    assert [d["status"] for d in items] == ["active", "inactive"]
    assert items[0]["code"]["digest"] != items[1]["code"]["digest"]
    assert {d["image_ref"] for d in items} == {first["runtime"]["image_ref"]}
    assert {d["created_by"] for d in items} == {"ada@example.com"}
    assert len(items[0]["triggers"]) == 3


def test_rollback_makes_the_earlier_code_answer_at_once_without_a_new_runtime(
    world: World,
) -> None:
    ada = world.tenant("ada@example.com", "acme")
    first = world.deploy_hello(ada)
    base = f"/api/workflows/{ada.workflow_id}/deployments"
    too_early = world.client.post(f"{base}/rollback", headers=ada.headers)
    assert too_early.status_code == 400
    assert "none before it" in too_early.json()["error"]["message"]

    second = _deploy_v2(world, ada, first["runtime"]["id"])
    assert _greeting(world, ada) == (200, {"message": "v2 says hi grace"})
    spec_hash = first["runtime"]["spec_hash"]
    built_before = (world.registry.pushes, world.repo.find_runtime(ada.namespace_id, spec_hash))

    rolled = world.client.post(f"{base}/rollback", headers=ada.headers)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["deployment"]["id"] == first["deployment"]["id"]
    assert rolled.json()["deployment"]["status"] == "active"
    assert _greeting(world, ada) == (200, {"message": "hi grace"})
    # nothing built, pushed or created: the same runtime serves the earlier code
    assert (world.registry.pushes, world.repo.find_runtime(ada.namespace_id, spec_hash)) == (
        built_before
    )
    assert rolled.json()["deployment"]["runtime_id"] == first["runtime"]["id"]
    active = world.repo.find_active_deployment(ada.workflow_id)
    assert active is not None and active.id == first["deployment"]["id"]
    hooks = world.repo.list_triggers(ada.workflow_id, TriggerSource.DEPLOYMENT)
    assert {t.deployment_id for t in hooks} == {first["deployment"]["id"]}

    # and forward again, by id
    forward = world.client.post(
        f"{base}/{second['deployment']['id']}/activate", headers=ada.headers
    )
    assert forward.status_code == 200, forward.text
    assert _greeting(world, ada) == (200, {"message": "v2 says hi grace"})
    missing = world.client.post(f"{base}/dep_nothing/activate", headers=ada.headers)
    assert missing.status_code == 404


def test_deactivate_returns_the_workflow_to_its_dev_session(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    world.deploy_hello(ada)
    synced = world.client.put(
        f"/api/workflows/{ada.workflow_id}/dev-triggers",
        json={"triggers": world.hello_specs()},
        headers=ada.headers,
    )
    assert synced.status_code == 200
    assert _greeting(world, ada) == (200, {"message": "hi grace"})  # the deployment wins

    path = f"/api/workflows/{ada.workflow_id}/deployments/deactivate"
    gone = world.client.post(path, headers=ada.headers)
    assert gone.status_code == 200, gone.text
    assert gone.json()["deactivated"]["status"] == "inactive"
    assert world.repo.find_active_deployment(ada.workflow_id) is None
    assert world.repo.list_triggers(ada.workflow_id, TriggerSource.DEPLOYMENT) == []

    worker = _answer_one_dev_call(world, ada)
    assert _greeting(world, ada) == (200, {"message": "dev answers"})
    worker.join(5)

    again = world.client.post(path, headers=ada.headers)
    assert again.status_code == 200 and again.json()["deactivated"] is None
    world.client.delete(f"/api/workflows/{ada.workflow_id}/dev-triggers", headers=ada.headers)
    assert world.client.post(f"/webhook/{ada.workflow_id}/hello/grace").status_code == 404


def test_delete_leaves_nothing_of_the_workflow(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    deployed = world.deploy_hello(ada)
    assert _greeting(world, ada)[0] == 200
    put = world.client.put(
        f"/api/workflows/{ada.workflow_id}/dev-triggers",
        json={"triggers": world.hello_specs(), "session_id": "dev_one"},
        headers=ada.headers,
    )
    assert put.status_code == 200
    keeper = world.client.post(
        f"/api/namespaces/{ada.namespace_id}/workflows",
        json={"name": "keeper"},
        headers=ada.headers,
    ).json()
    bob = world.tenant("bob@example.com", "other")

    assert (
        world.client.delete(f"/api/workflows/{ada.workflow_id}", headers=bob.headers).status_code
        == 404
    )
    assert world.repo.get_workflow(ada.workflow_id).id == ada.workflow_id

    gone = world.client.delete(f"/api/workflows/{ada.workflow_id}", headers=ada.headers)
    assert gone.status_code == 204, gone.text

    assert world.client.post(f"/webhook/{ada.workflow_id}/hello/grace").status_code == 404
    assert (
        world.client.get(f"/api/workflows/{ada.workflow_id}", headers=ada.headers).status_code
        == 404
    )
    listed = world.client.get(
        f"/api/namespaces/{ada.namespace_id}/workflows", headers=ada.headers
    ).json()["items"]
    assert [w["id"] for w in listed] == [keeper["id"]]
    assert world.repo.list_triggers(ada.workflow_id) == []
    assert world.repo.list_deployments(ada.workflow_id) == []
    assert world.repo.list_executions(ada.workflow_id) == []
    assert world.repo.find_runtime(ada.namespace_id, deployed["runtime"]["spec_hash"]) is None
    long_ago = datetime.min.replace(tzinfo=UTC)
    assert list(world.deps.dev_sessions.live(ada.workflow_id, long_ago)) == []
    again = world.client.delete(f"/api/workflows/{ada.workflow_id}", headers=ada.headers)
    assert again.status_code == 404
