"""Executions of a workflow or of a namespace (filtered, paged, newest first), one execution
with its logs, and manual runs."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from floww.domain.model import Execution
from floww.domain.usecases import queries, scheduling
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    execution_json,
    json_object,
    ok,
    op,
    query_datetime,
    query_int,
    read_json,
    run_as,
    services,
)
from floww.entrypoints.http.openapi import ref

__all__ = ["ROUTES"]


async def list_executions(request: Request) -> Response:
    principal = await authenticate(request)
    workflow_id = request.path_params["workflow_id"]
    limit = query_int(request, "limit", 50, 1, queries.MAX_PAGE)
    found = await run_as(
        request,
        principal,
        queries.list_executions,
        workflow_id,
        status=request.query_params.get("status"),
        limit=limit,
        before=query_datetime(request, "before"),
        since=query_datetime(request, "since"),
        trigger_id=request.query_params.get("trigger_id"),
    )
    labels = await run_as(request, principal, queries.trigger_labels, workflow_id)
    return ok(_page(found, limit, {workflow_id: labels}))


async def list_namespace_executions(request: Request) -> Response:
    principal = await authenticate(request)
    deps = services(request).deps
    limit = query_int(request, "limit", 50, 1, queries.MAX_PAGE)

    def read() -> tuple[list[Execution], dict[str, dict[str, str]]]:
        found = queries.list_namespace_executions(
            deps,
            principal,
            request.path_params["namespace_id"],
            status=request.query_params.get("status"),
            limit=limit,
            before=query_datetime(request, "before"),
            since=query_datetime(request, "since"),
        )
        workflow_ids = {e.workflow_id for e in found}
        return found, {w: queries.trigger_labels(deps, principal, w) for w in workflow_ids}

    found, labels = await run_in_threadpool(read)
    return ok(_page(found, limit, labels))


def _page(
    found: list[Execution], limit: int, labels: dict[str, dict[str, str]]
) -> dict[str, object]:
    """A page of list entries, each with its trigger's label (``None`` once removed), and the
    ``before`` of the next page when this one is full."""
    next_before = found[-1].received_at.isoformat() if len(found) == limit else None
    items = [
        {
            **execution_json(e, full=False),
            "trigger": labels.get(e.workflow_id, {}).get(e.trigger_id),
        }
        for e in found
    ]
    return {"items": items, "next_before": next_before}


async def get_execution(request: Request) -> Response:
    principal = await authenticate(request)
    deps = services(request).deps

    def read() -> tuple[Execution, dict[str, str]]:
        execution = queries.get_execution(deps, principal, request.path_params["execution_id"])
        return execution, queries.trigger_labels(deps, principal, execution.workflow_id)

    execution, labels = await run_in_threadpool(read)
    return ok({**execution_json(execution, full=True), "trigger": labels.get(execution.trigger_id)})


async def invoke_manual(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    execution = await run_as(
        request,
        principal,
        scheduling.invoke_manual,
        request.path_params["workflow_id"],
        request.path_params["name"],
        doc.get("input"),
    )
    return ok(execution_json(execution, full=True))


_PAGE = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {"type": "array", "items": ref("Execution")},
        "next_before": {"type": ["string", "null"]},
    },
}
_FILTERS = (
    ("status", "string", "only executions in this status"),
    ("limit", "integer", f"page size, 1 to {queries.MAX_PAGE} (default 50)"),
    ("before", "string", "ISO-8601 time: executions received before it"),
    ("since", "string", "ISO-8601 time: executions received at or after it"),
)
_INPUT = {"type": "object", "properties": {"input": {}}}

ROUTES = [
    op(
        "GET",
        "/api/workflows/{workflow_id}/executions",
        list_executions,
        Doc(
            "Executions, newest first",
            None,
            _PAGE,
            query=(*_FILTERS, ("trigger_id", "string", "only executions of this trigger")),
        ),
    ),
    op(
        "GET",
        "/api/namespaces/{namespace_id}/executions",
        list_namespace_executions,
        Doc(
            "Executions of every workflow of the namespace, newest first",
            None,
            _PAGE,
            query=_FILTERS,
        ),
    ),
    op(
        "GET",
        "/api/executions/{execution_id}",
        get_execution,
        Doc("One execution with its event and logs", None, "Execution"),
    ),
    op(
        "POST",
        "/api/workflows/{workflow_id}/manual/{name}",
        invoke_manual,
        Doc("Run a manual trigger of the active deployment and wait", _INPUT, "Execution"),
    ),
]
