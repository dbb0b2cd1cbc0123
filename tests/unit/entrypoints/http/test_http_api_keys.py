"""``/api/namespaces/{id}/api-keys`` over the in-memory adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from conftest import World


def with_api_keys(world: World) -> World:
    """The shared world serves no ``ApiKeys``; give it the in-memory auth, as bootstrap does."""
    app: Any = world.client.app
    services = app.state.services
    app.state.services = attrs.evolve(
        services, deps=attrs.evolve(services.deps, api_keys=world.auth)
    )
    return world


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_list_revoke(world: World) -> None:
    with_api_keys(world)
    ada = world.tenant("ada@example.com", "acme")
    base = f"/api/namespaces/{ada.namespace_id}/api-keys"
    made = world.client.post(base, json={"name": "github-actions"}, headers=ada.headers)
    assert made.status_code == 201, made.text
    plaintext, info = made.json()["key"], made.json()["api_key"]
    assert plaintext.startswith("floww_")
    assert set(info) == {"id", "name", "namespace_id", "created_at", "hint", "scope"}
    assert info["scope"] == "deploy"
    assert (info["name"], info["namespace_id"]) == ("github-actions", ada.namespace_id)

    listed = world.client.get(base, headers=ada.headers)
    assert listed.status_code == 200
    assert listed.json() == {"items": [info]}
    assert plaintext not in listed.text and plaintext[6:] not in listed.text

    workflows = world.client.get(
        f"/api/namespaces/{ada.namespace_id}/workflows", headers=bearer(plaintext)
    )
    assert [w["name"] for w in workflows.json()["items"]] == ["hello"]

    gone = world.client.delete(f"{base}/{info['id']}", headers=ada.headers)
    assert gone.status_code == 204 and gone.content == b""
    refused = world.client.get(
        f"/api/namespaces/{ada.namespace_id}/workflows", headers=bearer(plaintext)
    )
    assert refused.status_code == 401
    assert world.client.get(base, headers=ada.headers).json() == {"items": []}
    again = world.client.delete(f"{base}/{info['id']}", headers=ada.headers)
    assert again.status_code == 404
    assert again.json()["error"]["kind"] == "API key"


def test_an_api_key_cannot_manage_api_keys(world: World) -> None:
    with_api_keys(world)
    ada = world.tenant("ada@example.com", "acme")
    base = f"/api/namespaces/{ada.namespace_id}/api-keys"
    made = world.client.post(base, json={"name": "ci"}, headers=ada.headers).json()
    as_key = bearer(made["key"])
    for method, path, body in (
        ("POST", base, {"name": "more"}),
        ("GET", base, None),
        ("DELETE", f"{base}/{made['api_key']['id']}", None),
    ):
        answer = world.client.request(method, path, json=body, headers=as_key)
        assert answer.status_code == 403, answer.text
        assert "signed-in user" in answer.json()["error"]["message"]
    assert len(world.client.get(base, headers=ada.headers).json()["items"]) == 1


def test_bad_bodies_are_400(world: World) -> None:
    with_api_keys(world)
    ada = world.tenant("ada@example.com", "acme")
    base = f"/api/namespaces/{ada.namespace_id}/api-keys"
    for body in ({}, {"name": 7}, {"name": "  "}, {"name": "x" * 101}):
        answer = world.client.post(base, json=body, headers=ada.headers)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["message"]
    assert world.client.get(base, headers=ada.headers).json() == {"items": []}


def test_without_an_api_keys_service_the_answer_is_503(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    answer = world.client.get(f"/api/namespaces/{ada.namespace_id}/api-keys", headers=ada.headers)
    assert answer.status_code == 503
    assert "does not manage API keys" in answer.json()["error"]["message"]


def test_the_routes_are_in_the_openapi_document(world: World) -> None:
    paths = world.client.get("/api/openapi.json").json()["paths"]
    keys = paths["/api/namespaces/{namespace_id}/api-keys"]
    assert set(keys) >= {"get", "post"}
    assert "201" in keys["post"]["responses"]
    assert "delete" in paths["/api/namespaces/{namespace_id}/api-keys/{key_id}"]
