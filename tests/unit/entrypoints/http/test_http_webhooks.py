"""Webhook ingress: byte-exact bodies, size limits, response rendering, and a dev session
answering through the API."""

from __future__ import annotations

import base64
import threading
import time
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from floww.domain.model import ExecutionStatus
from floww.domain.usecases.webhooks import WebhookResponse
from floww.entrypoints.http.webhooks import render

if TYPE_CHECKING:
    from conftest import World

ECHO = """
from floww import Builtin

builtin = Builtin()

@builtin.webhook("/echo", methods=["POST", "PUT"])
def echo(ctx, event):
    return {"raw": event.raw_body.decode("latin-1"), "headers": dict(event.headers),
            "query": dict(event.query), "method": event.method}

@builtin.webhook("/text", methods=["GET"])
def text(ctx, event):
    return "plain words"

@builtin.webhook("/nothing", methods=["DELETE"])
def nothing(ctx, event):
    return None
"""


def _deploy_code(world: World, source: str) -> Any:
    return world.deploy_source(source)


def test_raw_body_headers_and_query_reach_the_handler(world: World) -> None:
    tenant = _deploy_code(world, ECHO)
    raw = b'{"b": 1,   "a": [2]}\r\n'
    answer = world.client.put(
        f"/webhook/{tenant.workflow_id}/echo",
        params={"q": "1"},
        content=raw,
        headers={"Content-Type": "application/json", "X-Custom-Thing": "Yes"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["raw"].encode("latin-1") == raw
    assert body["headers"]["x-custom-thing"] == "Yes"
    assert body["query"] == {"q": "1"} and body["method"] == "PUT"
    stored = world.repo.get_execution(answer.headers["x-floww-execution-id"])
    assert base64.b64decode(stored.event["raw_body_b64"]) == raw


def test_text_and_empty_answers(world: World) -> None:
    tenant = _deploy_code(world, ECHO)
    text = world.client.get(f"/webhook/{tenant.workflow_id}/text")
    assert (text.status_code, text.text) == (200, "plain words")
    assert text.headers["content-type"].startswith("text/plain")
    empty = world.client.delete(f"/webhook/{tenant.workflow_id}/nothing")
    assert (empty.status_code, empty.content) == (204, b"")
    # whatever the handler returns, the platform's origin never serves it sniffed
    for answer in (text, empty):
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_unknown_webhook_is_404_and_wrong_method_405(world: World) -> None:
    tenant = _deploy_code(world, ECHO)
    assert world.client.post(f"/webhook/{tenant.workflow_id}/nope").status_code == 404
    wrong = world.client.get(f"/webhook/{tenant.workflow_id}/echo")
    assert wrong.status_code == 405 and "POST" in wrong.headers["allow"]
    assert world.client.post("/webhook/wf_unknown/echo").status_code == 404


def test_oversize_webhook_body_is_413_and_records_nothing(world: World) -> None:
    tenant = _deploy_code(world, ECHO)

    def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1024

    streamed = world.client.post(
        f"/webhook/{tenant.workflow_id}/echo",
        content=chunks(),
        headers={"content-type": "text/plain"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"]["type"] == "PayloadTooLarge"
    declared = world.client.post(f"/webhook/{tenant.workflow_id}/echo", content=b"y" * 70_000)
    assert declared.status_code == 413
    assert world.repo.list_executions(tenant.workflow_id) == []


def test_render_keeps_handler_headers_and_status() -> None:
    response = render(WebhookResponse(201, [1, 2], {"x-a": "b", "content-length": "999"}))
    assert response.status_code == 201 and response.body == b"[1, 2]"
    assert response.headers["x-a"] == "b" and response.headers["content-length"] == "6"
    typed = render(WebhookResponse(200, "<p>hi</p>", {"content-type": "text/html"}))
    assert typed.headers["content-type"] == "text/html"
    assert render(WebhookResponse(200, True)).body == b"true"


def test_dev_session_answers_a_webhook_through_the_api(world: World) -> None:
    tenant = world.tenant("ada@example.com", "acme")
    synced = world.client.put(
        f"/api/workflows/{tenant.workflow_id}/dev-triggers",
        json={"triggers": world.hello_specs()},
        headers=tenant.headers,
    )
    assert synced.status_code == 200
    subscription = world.realtime.subscribe(f"workflow:{tenant.workflow_id}")
    replies: list[int] = []

    def dev_session() -> None:
        message = subscription.get(timeout=5)
        if message is None:
            return
        name = message["event"]["path_params"]["name"]
        answer = world.client.post(
            f"/api/dev/replies/{message['reply_to']}",
            json={
                "token": message["token"],
                "result": {
                    "ok": True,
                    "result": {"message": f"dev says hi {name}"},
                    "logs": [{"at": "2026-01-01T00:00:00+00:00", "level": "info", "message": "d"}],
                    "duration_ms": 1.5,
                },
            },
            headers=tenant.headers,
        )
        replies.append(answer.status_code)

    worker = threading.Thread(target=dev_session, daemon=True)
    worker.start()
    answer = world.client.post(f"/webhook/{tenant.workflow_id}/hello/grace")
    worker.join(5)
    subscription.close()
    assert replies == [204]
    assert (answer.status_code, answer.json()) == (200, {"message": "dev says hi grace"})
    execution = world.repo.get_execution(answer.headers["x-floww-execution-id"])
    assert execution.status == ExecutionStatus.COMPLETED
    assert [line.message for line in execution.logs] == ["d"]


def test_dev_reply_with_a_foreign_token_is_refused(world: World) -> None:
    tenant = world.tenant("ada@example.com", "acme")
    world.client.put(
        f"/api/workflows/{tenant.workflow_id}/dev-triggers",
        json={"triggers": world.hello_specs()},
        headers=tenant.headers,
    )
    subscription = world.realtime.subscribe(f"workflow:{tenant.workflow_id}")
    statuses: list[int] = []

    def forger() -> None:
        message = subscription.get(timeout=5)
        if message is None:
            return
        path = f"/api/dev/replies/{message['reply_to']}"
        bad = {"token": tenant.token, "result": {"ok": True, "result": "forged"}}
        statuses.append(world.client.post(path, json=bad, headers=tenant.headers).status_code)
        malformed = {"token": message["token"], "result": {"result": "no ok field"}}
        statuses.append(world.client.post(path, json=malformed, headers=tenant.headers).status_code)
        good = {"token": message["token"], "result": {"ok": True, "result": "real"}}
        statuses.append(world.client.post(path, json=good, headers=tenant.headers).status_code)
        statuses.append(world.client.post(path, json=good, headers=tenant.headers).status_code)

    worker = threading.Thread(target=forger, daemon=True)
    worker.start()
    answer = world.client.post(f"/webhook/{tenant.workflow_id}/hello/x")
    worker.join(5)
    subscription.close()
    assert statuses[:3] == [401, 400, 204]
    assert statuses[3] in (404, 409)  # answered already / nobody waits any more
    assert (answer.status_code, answer.text) == (200, "real")


def test_one_workflow_holds_a_bounded_share_of_the_webhook_callers(world: World) -> None:
    """A dev session that never answers keeps its callers waiting up to the deadline; past the
    workflow's share the next caller is refused at once (503, Retry-After), and another
    workflow's webhooks are not held up."""
    services = world.client.app.state.services  # type: ignore[attr-defined]
    settings = attrs.evolve(
        services.deps.settings, webhook_calls_per_workflow=1, response_deadline_s=2.0
    )
    world.client.app.state.services = attrs.evolve(  # type: ignore[attr-defined]
        services, deps=attrs.evolve(services.deps, settings=settings)
    )
    silent = world.tenant("s@example.com", "silent-ns")
    synced = world.client.put(
        f"/api/workflows/{silent.workflow_id}/dev-triggers",
        json={"triggers": world.hello_specs()},
        headers=silent.headers,
    )
    assert synced.status_code == 200, synced.text
    other = _deploy_code(world, ECHO)
    hook = f"/webhook/{silent.workflow_id}/hello/ada"
    first: list[int] = []
    waiting = threading.Thread(target=lambda: first.append(world.client.post(hook).status_code))
    waiting.start()
    deadline = time.monotonic() + 10
    while not getattr(world.client.app.state, "webhook_calls", None):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the first call never started"
        time.sleep(0.01)
    refused = world.client.post(hook)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["type"] == "Overloaded"
    assert int(refused.headers["retry-after"]) >= 1
    assert world.client.get(f"/webhook/{other.workflow_id}/text").status_code == 200
    waiting.join(10)
    assert first and first[0] != 503


def test_webhook_calls_skip_the_router_and_are_answered_alike(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``WebhookFirst`` takes webhook calls to their route without the router; refusals are
    the app's own answers, and a method the route does not take still gets the router's."""
    from starlette.routing import Router

    tenant = _deploy_code(world, ECHO)
    routed: list[str] = []
    route = Router.__call__

    async def counting(self: Router, scope: Any, receive: Any, send: Any) -> None:
        routed.append(scope["path"])
        await route(self, scope, receive, send)

    monkeypatch.setattr(Router, "__call__", counting)
    assert world.client.put(f"/webhook/{tenant.workflow_id}/echo", content=b"x").status_code == 200
    missing = world.client.post(f"/webhook/{tenant.workflow_id}/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NotFound"
    wrong = world.client.get(f"/webhook/{tenant.workflow_id}/echo")
    assert wrong.status_code == 405 and "POST" in wrong.headers["allow"]
    assert routed == []
    trace = world.client.request("TRACE", f"/webhook/{tenant.workflow_id}/echo")
    assert trace.status_code == 405  # not a webhook method: the router answers
    assert world.client.get("/api/config").status_code == 200
    assert routed == [f"/webhook/{tenant.workflow_id}/echo", "/api/config"]
