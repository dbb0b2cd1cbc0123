"""The local webhook server's app: production paths and methods, the handler's result as the
server renders it, on the current code."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from floww.domain.model import ErrorInfo, InvocationResult, ProviderRef, TriggerSpec
from floww.entrypoints.cli.devloop import local_webhook_app, match_webhook
from tests.unit.entrypoints.cli.devloop.conftest import World

BUILTIN = ProviderRef("builtin")


def _hook(path: str, *methods: str) -> TriggerSpec:
    return TriggerSpec(BUILTIN, "webhook", {"path": path, "methods": list(methods) or ["POST"]})


ORDERS = _hook("/orders/{order_id}", "GET", "PUT")
LIST = _hook("/orders", "GET")


def test_match_webhook_by_method_and_template() -> None:
    specs = [LIST, ORDERS, TriggerSpec(BUILTIN, "cron", {"expression": "* * * * *"})]

    assert match_webhook(specs, "GET", "/orders/42") == (ORDERS, {"order_id": "42"})
    assert match_webhook(specs, "put", "/orders/42/") == (ORDERS, {"order_id": "42"})
    assert match_webhook(specs, "GET", "/orders") == (LIST, {})
    assert match_webhook(specs, "POST", "/orders/42") is None
    assert match_webhook(specs, "GET", "/orders/42/items") is None


def _app(result: Any, seen: list[tuple[TriggerSpec, dict[str, Any]]]) -> TestClient:
    def run(spec: TriggerSpec, event: dict[str, Any]) -> InvocationResult:
        seen.append((spec, event))
        return result if isinstance(result, InvocationResult) else InvocationResult(True, result)

    return TestClient(local_webhook_app(lambda: [LIST, ORDERS], run, workflow_id="wf_1"))


def test_routes_path_parameters_and_methods_to_the_trigger() -> None:
    seen: list[tuple[TriggerSpec, dict[str, Any]]] = []
    client = _app({"ok": True}, seen)

    answer = client.put("/orders/42?verbose=1", json={"qty": 3})

    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert answer.headers["x-floww-execution-id"] == "local-1"
    spec, event = seen[0]
    assert spec == ORDERS
    assert event["method"] == "PUT" and event["path"] == "/orders/42"
    assert event["path_params"] == {"order_id": "42"}
    assert event["query"] == {"verbose": "1"}
    assert event["body"] == {"qty": 3}
    assert event["headers"]["content-type"] == "application/json"


def test_an_unknown_path_is_404_naming_what_is_served() -> None:
    seen: list[tuple[TriggerSpec, dict[str, Any]]] = []
    client = _app(None, seen)

    answer = client.post("/customers/42")

    assert answer.status_code == 404
    message = answer.json()["error"]["message"]
    assert "POST /customers/42 not found" in message and "GET /orders/{order_id}" in message
    assert seen == []


def test_a_known_path_with_another_method_is_405_as_on_the_server() -> None:
    seen: list[tuple[TriggerSpec, dict[str, Any]]] = []

    answer = _app(None, seen).post("/orders/42")

    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, PUT")
    assert answer.json()["error"]["type"] == "MethodNotAllowed"
    assert seen == []


def test_results_render_like_the_server() -> None:
    seen: list[tuple[TriggerSpec, dict[str, Any]]] = []
    assert _app(None, seen).get("/orders").status_code == 204
    text = _app("plain words", seen).get("/orders")
    assert text.text == "plain words" and text.headers["content-type"].startswith("text/plain")
    made = {"$response": {"status": 201, "headers": {"X-Thing": "yes"}, "body": {"id": 7}}}
    custom = _app(made, seen).get("/orders")
    assert (custom.status_code, custom.json(), custom.headers["x-thing"]) == (201, {"id": 7}, "yes")
    failed = InvocationResult(False, error=ErrorInfo("ValueError", "bad"))
    broken = _app(failed, seen).get("/orders")
    assert broken.status_code == 500 and broken.json()["error"]["type"] == "ExecutionFailed"
    late = InvocationResult(False, error=ErrorInfo("DeadlineExceeded", "slow"))
    assert _app(late, seen).get("/orders").status_code == 504


def test_the_loop_serves_the_current_code_locally(world: World) -> None:
    world.loop.start()
    client = TestClient(local_webhook_app(world.loop.triggers, world.loop.run_local))

    first = client.post("/hello/ada", json={})
    world.main.write_text(world.main.read_text().replace('f"hi {', 'f"hello {'))
    world.loop.reload(["main.py"])
    second = client.post("/hello/ada", json={})

    assert first.json() == {"message": "hi ada"}
    assert second.json() == {"message": "hello ada"}
    assert client.get("/hello/ada").status_code == 405
    local = [line for line in world.lines if line.endswith("(local)")]
    assert len(local) == 2 and all("POST /hello/{name}  ok" in line for line in local)
