"""A dev session's side of the API: its triggers, and its answers to events."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from floww.domain.usecases import dev_sessions, replies, triggers
from floww.domain.usecases.dev_sessions import DEFAULT_SESSION
from floww.entrypoints.http.api.deployments import triggers_from
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    call,
    decoded_field,
    field,
    json_object,
    ok,
    op,
    optional_field,
    read_json,
    run_as,
    services,
)
from floww.entrypoints.http.openapi import ref
from floww.sdk import wire

__all__ = ["ROUTES"]


async def sync_dev_triggers(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    specs = triggers_from(doc)
    session_id = optional_field(doc, "session_id", str, DEFAULT_SESSION)
    urls = await run_as(
        request,
        principal,
        dev_sessions.open_dev_session,
        request.path_params["workflow_id"],
        specs,
        session_id,
    )
    lease = services(request).deps.settings.dev_lease_s
    return ok({"webhook_urls": list(urls), "session_id": session_id, "lease_seconds": lease})


async def clear_dev_triggers(request: Request) -> Response:
    await call(
        request,
        dev_sessions.close_dev_session,
        request.path_params["workflow_id"],
        request.path_params.get("session_id", DEFAULT_SESSION),
    )
    return Response(status_code=204)


async def renew_lease(request: Request) -> Response:
    await call(
        request,
        dev_sessions.renew_dev_session,
        request.path_params["workflow_id"],
        request.path_params["session_id"],
    )
    return Response(status_code=204)


async def dev_token(request: Request) -> Response:
    token = await call(request, triggers.issue_dev_token, request.path_params["workflow_id"])
    return ok({"token": token}, 201)


async def reply(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    token = field(doc, "token", str)
    result = decoded_field(doc, "result", wire.result_from_wire)
    await run_as(
        request,
        principal,
        replies.reply_to_event,
        execution_id=request.path_params["execution_id"],
        token=token,
        result=result,
    )
    return Response(status_code=204)


_TRIGGERS = {
    "type": "object",
    "required": ["triggers"],
    "properties": {
        "triggers": {"type": "array", "items": ref("TriggerSpec")},
        "session_id": {"type": "string"},
    },
}
_URLS = {
    "type": "object",
    "properties": {
        "webhook_urls": {"type": "array"},
        "session_id": {"type": "string"},
        "lease_seconds": {"type": "number"},
    },
}
_REPLY = {
    "type": "object",
    "required": ["token", "result"],
    "properties": {"token": {"type": "string"}, "result": ref("InvocationResult")},
}
_DEV = "/api/workflows/{workflow_id}/dev-triggers"
_SESSION = "/api/workflows/{workflow_id}/dev-sessions/{session_id}"
_TOKEN = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}

ROUTES = [
    op(
        "PUT",
        _DEV,
        sync_dev_triggers,
        Doc(
            "Register a dev session and the triggers its code declares", _TRIGGERS, _URLS, tag="dev"
        ),
    ),
    op(
        "DELETE",
        _DEV,
        clear_dev_triggers,
        Doc("End the dev session that named no session id", status=204, tag="dev"),
    ),
    op(
        "DELETE",
        _SESSION,
        clear_dev_triggers,
        Doc("End one dev session; the others keep their triggers", status=204, tag="dev"),
    ),
    op(
        "POST",
        f"{_SESSION}/lease",
        renew_lease,
        Doc("Renew a dev session's lease (404 once it was dropped)", status=204, tag="dev"),
    ),
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
