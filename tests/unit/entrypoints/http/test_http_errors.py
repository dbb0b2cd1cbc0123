"""Bad input gets a clear 4xx naming the problem, nothing is stored half-way, unexpected
failures are a bare 500, and the OpenAPI document lists every route."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import pytest
from starlette.routing import Route

from floww.entrypoints.http.codec import ApiRoute
from floww.entrypoints.http.openapi import openapi_path

if TYPE_CHECKING:
    from conftest import World


def _error(answer: object) -> dict[str, object]:
    body = answer.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert {"type", "message"} <= set(body["error"])
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"Authorization": "Bearer"}, "empty"),
        ({"Authorization": "Basic YTpi"}, "wrong scheme"),
        ({"Authorization": "Bearer not-a-token"}, "unknown"),
    ],
)
def test_bad_tokens_are_401_with_a_challenge(
    world: World, headers: dict[str, str], reason: str
) -> None:
    answer = world.client.get("/api/namespaces", headers=headers)
    assert answer.status_code == 401, reason
    assert answer.headers["www-authenticate"] == "Bearer"
    assert _error(answer)["type"] == "Unauthenticated"


def test_revoked_token_is_refused(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    world.auth.revoke(ada.token)
    assert world.client.get("/api/whoami", headers=ada.headers).status_code == 401


def test_unknown_route_and_wrong_method_are_json(world: World) -> None:
    missing = world.client.get("/api/nothing-here")
    assert missing.status_code == 404 and _error(missing)["type"] == "NotFound"
    wrong = world.client.delete("/api/config")
    assert wrong.status_code == 405 and _error(wrong)["type"] == "MethodNotAllowed"
    assert "GET" in wrong.headers["allow"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "not JSON"),
        (b"", "JSON document"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"name": 7}', "'name'"),
        (b"{}", "'name'"),
        (b'{"name": "Not Valid!"}', "name"),
        (b'{"name": NaN}', "NaN"),
        (b"\xff\xfe", "UTF-8"),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
    ],
)
def test_malformed_bodies_are_400_naming_the_problem(
    world: World, content: bytes, needle: str
) -> None:
    ada = world.tenant("ada@example.com", "acme")
    answer = world.client.post(
        f"/api/namespaces/{ada.namespace_id}/workflows",
        content=content,
        headers={**ada.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert needle in str(_error(answer)["message"])
    assert [w.name for w in world.repo.list_workflows(ada.namespace_id)] == ["hello"]


def test_invalid_provider_config_stores_nothing(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    path = f"/api/namespaces/{ada.namespace_id}/providers/github/default"
    for body in ({"config": {"bogus": "x"}}, {"config": "x"}, {"config": {"token": 5}}, {}):
        answer = world.client.put(path, json=body, headers=ada.headers)
        assert answer.status_code == 400, (body, answer.text)
    assert world.repo.list_providers(ada.namespace_id) == []
    unknown = world.client.put(
        f"/api/namespaces/{ada.namespace_id}/providers/nope/default",
        json={"config": {"a": "b"}},
        headers=ada.headers,
    )
    assert unknown.status_code == 404
    assert world.repo.list_providers(ada.namespace_id) == []


def test_bad_deployments_store_nothing(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    receipt = world.deploy_hello(ada)
    runtime_id = receipt["runtime"]["id"]
    path = f"/api/workflows/{ada.workflow_id}/deployments"
    broken = {"entrypoint": "main.py", "files": {"main.py": "def broken(:\n"}}
    cases = [
        ({"code": broken}, 400, "'runtime_id'"),
        ({"runtime_id": runtime_id, "code": {"entrypoint": "main.py"}}, 400, "field 'code': "),
        ({"runtime_id": runtime_id, "code": []}, 400, "field 'code': "),
        ({"runtime_id": runtime_id, "code": broken, "triggers": "x"}, 400, "'triggers'"),
        ({"runtime_id": "rt_missing", "code": broken}, 404, "runtime"),
        ({"runtime_id": runtime_id, "code": broken}, 422, "main.py"),
    ]
    for body, status, needle in cases:
        answer = world.client.post(path, json=body, headers=ada.headers)
        assert answer.status_code == status, (body, answer.text)
        assert needle in str(_error(answer)["message"])
    user_code = world.client.post(path, json=cases[-1][0], headers=ada.headers)
    assert _error(user_code)["filename"] == "main.py" and _error(user_code)["lineno"] == 1
    assert len(world.repo.list_deployments(ada.workflow_id)) == 1


def test_missing_provider_is_422_with_the_missing_list(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    receipt = world.deploy_hello(ada)
    code = {
        "entrypoint": "main.py",
        "files": {
            "main.py": "from floww import Builtin, GitHub\nbuiltin = Builtin()\n"
            "github = GitHub()\n@builtin.manual('go')\ndef go(ctx, event):\n    return 1\n"
        },
    }
    answer = world.client.post(
        f"/api/workflows/{ada.workflow_id}/deployments",
        json={"runtime_id": receipt["runtime"]["id"], "code": code},
        headers=ada.headers,
    )
    assert answer.status_code == 422, answer.text
    assert _error(answer)["missing"] == [["github", "default"]]
    assert len(world.repo.list_deployments(ada.workflow_id)) == 1


def test_oversize_api_body_is_413_and_stores_nothing(world: World) -> None:
    ada = world.tenant("ada@example.com", "acme")
    big = b'{"name": "' + b"a" * (70 * 1024) + b'"}'
    answer = world.client.post(
        f"/api/namespaces/{ada.namespace_id}/workflows",
        content=big,
        headers={**ada.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 413 and _error(answer)["type"] == "PayloadTooLarge"

    def chunks() -> object:
        for _ in range(80):
            yield b"x" * 1024

    streamed = world.client.put(
        "/api/kv/big",
        params={"namespace": ada.namespace_id},
        content=chunks(),  # type: ignore[arg-type]
        headers=ada.headers,
    )
    assert streamed.status_code == 413
    assert world.repo.kv_list(ada.namespace_id) == []


def test_unexpected_errors_are_a_bare_500(world: World, caplog: pytest.LogCaptureFixture) -> None:
    ada = world.tenant("ada@example.com", "acme")

    def explode(namespace_id: str) -> list[object]:
        raise RuntimeError("db password is hunter2")

    world.repo.list_workflows = explode  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="floww.http"):
        answer = world.client.get(
            f"/api/namespaces/{ada.namespace_id}/workflows", headers=ada.headers
        )
    assert answer.status_code == 500
    assert answer.json() == {"error": {"type": "Internal", "message": "internal error"}}
    assert "RuntimeError" in caplog.text
    assert "hunter2" not in caplog.text and "hunter2" not in answer.text


def test_every_route_that_needs_a_token_refuses_a_caller_without_one_before_reading_the_body(
    world: World,
) -> None:
    checked = 0
    for route in world.client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, ApiRoute) or not route.doc.auth:
            continue
        path = re.sub(r"\{[^}]*\}", "x", route.path)
        for method in set(route.methods or ()) - {"HEAD"}:
            answer = world.client.request(method, path, content=b"{not json")
            assert answer.status_code == 401, f"{method} {route.path}: {answer.text}"
            assert _error(answer)["type"] == "Unauthenticated"
            checked += 1
    assert checked >= 30


def test_openapi_lists_every_route(world: World) -> None:
    doc = world.client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    checked = 0
    for route in world.client.app.routes:  # type: ignore[attr-defined]
        assert isinstance(route, Route)
        item = doc["paths"].get(openapi_path(route.path))
        assert item is not None, route.path
        for method in set(route.methods or ()) - {"HEAD"}:
            operation = item.get(method.lower())
            assert operation is not None, f"{method} {route.path}"
            assert operation["responses"]
            params = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert params == set(route.param_convertors)
            checked += 1
    assert checked >= 30
    put_provider = doc["paths"]["/api/namespaces/{namespace_id}/providers/{provider_type}/{alias}"]
    assert "requestBody" in put_provider["put"]
    assert "security" not in doc["paths"]["/api/config"]["get"]


def test_a_client_gone_while_its_body_was_read_is_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The app raising ``ClientDisconnect`` (the disconnect arrived while the body was read)
    is logged as a departure, not as an unhandled error, and nothing is sent."""
    import asyncio

    from starlette.requests import Request

    from floww.entrypoints.http.errors import CatchAllMiddleware

    async def app(scope: dict, receive: object, send: object) -> None:
        await Request(scope, receive).body()  # type: ignore[arg-type]  # ClientDisconnect
        raise AssertionError("the body was read")  # pragma: no cover

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/webhook/x", "headers": []}
    with caplog.at_level(logging.INFO, logger="floww"):
        asyncio.run(CatchAllMiddleware(app)(scope, receive, send))  # type: ignore[arg-type]
    assert sent == []
    assert "client went away during POST /webhook/x" in caplog.text
    assert "unhandled" not in caplog.text
