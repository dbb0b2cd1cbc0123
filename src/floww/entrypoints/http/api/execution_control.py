"""Rerun and cancel a recorded execution (``domain.usecases.execution_control``)::

POST /api/executions/{execution_id}/rerun    -> 201 the new execution (queued, not awaited)
POST /api/executions/{execution_id}/cancel   -> 200 the execution, now cancelled
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from floww.domain.usecases import execution_control
from floww.entrypoints.http.codec import Doc, call, execution_json, ok, op
from floww.entrypoints.http.openapi import ref
from floww.sdk.wire import spec_to_wire

__all__ = ["ROUTES"]


async def rerun(request: Request) -> Response:
    execution = await call(
        request, execution_control.rerun_execution, request.path_params["execution_id"]
    )
    return ok(execution_json(execution, full=True), 201)


async def cancel(request: Request) -> Response:
    execution = await call(
        request, execution_control.cancel_execution, request.path_params["execution_id"]
    )
    return ok(execution_json(execution, full=True))


async def trigger(request: Request) -> Response:
    spec = await call(
        request, execution_control.execution_trigger, request.path_params["execution_id"]
    )
    return ok({"trigger": spec_to_wire(spec)})


_TRIGGER = {
    "type": "object",
    "required": ["trigger"],
    "properties": {"trigger": ref("TriggerSpec")},
}

ROUTES = [
    op(
        "GET",
        "/api/executions/{execution_id}/trigger",
        trigger,
        Doc("The trigger spec a recorded execution ran (for a local replay)", None, _TRIGGER),
    ),
    op(
        "POST",
        "/api/executions/{execution_id}/rerun",
        rerun,
        Doc(
            "Run a recorded execution's event again on the active deployment (not awaited)",
            None,
            "Execution",
            status=201,
        ),
    ),
    op(
        "POST",
        "/api/executions/{execution_id}/cancel",
        cancel,
        Doc("Cancel an execution that has not finished", None, "Execution"),
    ),
]
