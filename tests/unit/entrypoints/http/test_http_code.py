"""``GET /api/workflows/{id}/code/{digest}``: the code a runtime fetches by digest (the Lambda
entry) with its execution token. Other tenants' code is out of reach (also in
``test_http_isolation.py``)."""

from __future__ import annotations

from conftest import World, hello_code


def test_an_execution_token_fetches_its_workflows_deployed_code(world: World) -> None:
    ada = world.tenant("ada@example.com", "ada")
    world.deploy_hello(ada)
    token = world.deps.tokens.issue_execution_token(
        namespace_id=ada.namespace_id,
        workflow_id=ada.workflow_id,
        execution_id="exe_1",
        ttl_seconds=60,
    )
    code = hello_code()
    answer = world.client.get(
        f"/api/workflows/{ada.workflow_id}/code/{code.digest}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "digest": code.digest,
        "entrypoint": "main.py",
        "files": dict(code.files),
    }
    # Members read it too; code no deployment holds is not found.
    assert world.client.get(answer.url.path, headers=ada.headers).status_code == 200
    missing = world.client.get(
        f"/api/workflows/{ada.workflow_id}/code/sha256:{'0' * 64}", headers=ada.headers
    )
    assert missing.status_code == 404


def test_an_execution_token_of_another_workflow_gets_nothing(world: World) -> None:
    ada = world.tenant("ada@example.com", "ada")
    world.deploy_hello(ada)
    other = world.client.post(
        f"/api/namespaces/{ada.namespace_id}/workflows", json={"name": "other"}, headers=ada.headers
    ).json()
    token = world.deps.tokens.issue_execution_token(
        namespace_id=ada.namespace_id, workflow_id=other["id"], execution_id="exe_2", ttl_seconds=60
    )
    answer = world.client.get(
        f"/api/workflows/{ada.workflow_id}/code/{hello_code().digest}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 404
    assert "files" not in answer.text
