"""A dev session's side of the API: its triggers, and its answers to events."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from floww.domain.errors import InvalidInput
from floww.domain.usecases import replies, triggers
from floww.entrypoints.http.api.deployments import triggers_from
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    field,
    json_object,
    ok,
    op,
    read_json,
    services,
)
from floww.entrypoints.http.openapi import ref
from floww.sdk import wire

__all__ = ["ROUTES"]


async def sync_dev_triggers(request: Request) -> Response:
    principal = await authenticate(request)
    specs = triggers_from(json_object(await read_json(request)))
    urls = await run_in_threadpool(
        triggers.sync_dev_triggers,
        services(request).deps,
        principal,
        request.path_params["workflow_id"],
        specs,
    )
    return ok({"webhook_urls": list(urls)})


async def clear_dev_triggers(request: Request) -> Response:
    principal = await authenticate(request)
    await run_in_threadpool(
        triggers.clear_dev_triggers,
        services(request).deps,
        principal,
        request.path_params["workflow_id"],
    )
    return Response(status_code=204)


async def dev_token(request: Request) -> Response:
    principal = await authenticate(request)
    token = await run_in_threadpool(
        triggers.issue_dev_token,
        services(request).deps,
        principal,
        request.path_params["workflow_id"],
    )
    return ok({"token": token}, 201)


async def reply(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    token = field(doc, "token", str)
    try:
        result = wire.result_from_wire(field(doc, "result", dict))
    except InvalidInput as exc:
        raise InvalidInput(f"field 'result': {exc.message}", field="result") from None
    await run_in_threadpool(
        lambda: replies.reply_to_event(
            services(request).deps,
            principal,
            execution_id=request.path_params["execution_id"],
            token=token,
            result=result,
        )
    )
    return Response(status_code=204)


_TRIGGERS = {
    "type": "object",
    "required": ["triggers"],
    "properties": {"triggers": {"type": "array", "items": ref("TriggerSpec")}},
}
_URLS = {"type": "object", "properties": {"webhook_urls": {"type": "array"}}}
_REPLY = {
    "type": "object",
    "required": ["token", "result"],
    "properties": {"token": {"type": "string"}, "result": ref("InvocationResult")},
}
_DEV = "/api/workflows/{workflow_id}/dev-triggers"
_TOKEN = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}

ROUTES = [
    op(
        "PUT",
        _DEV,
        sync_dev_triggers,
        Doc("Make these the dev triggers", _TRIGGERS, _URLS, tag="dev"),
    ),
    op("DELETE", _DEV, clear_dev_triggers, Doc("Remove the dev triggers", status=204, tag="dev")),
    op(
        "POST",
        "/api/workflows/{workflow_id}/dev-token",
        dev_token,
        Doc(
            "A workflow-scoped token for code a dev session runs locally",
            None,
            _TOKEN,
            201,
            tag="dev",
        ),
    ),
    op(
        "POST",
        "/api/dev/replies/{execution_id}",
        reply,
        Doc("Answer a dev event with the handler's result", _REPLY, status=204, tag="dev"),
    ),
]
