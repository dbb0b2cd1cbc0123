"""``POST /api/executions/{execution_id}/report``: a runtime reporting the answer of a run it
was handed detached (the Lambda entry, with the execution's token). 200 with the execution as
recorded; 404 for any token but the execution's own; 409 when its outcome is recorded already."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from floww.domain.usecases.reports import report_execution
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    decoded_field,
    execution_json,
    json_object,
    ok,
    op,
    read_json,
    run_as,
)
from floww.entrypoints.http.openapi import ref
from floww.sdk import wire

__all__ = ["ROUTES"]


async def report(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    result = decoded_field(doc, "result", wire.result_from_wire)
    execution = await run_as(
        request, principal, report_execution, request.path_params["execution_id"], result
    )
    return ok(execution_json(execution, full=True))


_REPORT = {
    "type": "object",
    "required": ["result"],
    "properties": {"result": ref("InvocationResult")},
}

ROUTES = [
    op(
        "POST",
        "/api/executions/{execution_id}/report",
        report,
        Doc("Report the outcome of a run started detached (execution token)", _REPORT, "Execution"),
    ),
]
