"""Namespaces and their workflows."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from floww.codec import unstructure
from floww.domain.usecases import queries, workflows
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    call,
    field,
    json_object,
    ok,
    op,
    read_json,
    run_as,
)
from floww.entrypoints.http.openapi import items_of

__all__ = ["ROUTES"]

_NAMED = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


async def list_namespaces(request: Request) -> Response:
    found = await call(request, workflows.list_namespaces)
    return ok({"items": unstructure(found)})


async def create_namespace(request: Request) -> Response:
    principal = await authenticate(request)
    name = field(json_object(await read_json(request)), "name", str)
    made = await run_as(request, principal, workflows.create_namespace, name)
    return ok(unstructure(made), 201)


async def get_namespace(request: Request) -> Response:
    namespace = await call(request, queries.get_namespace, request.path_params["namespace_id"])
    return ok(unstructure(namespace))


async def list_workflows(request: Request) -> Response:
    principal = await authenticate(request)
    namespace_id, name = request.path_params["namespace_id"], request.query_params.get("name")
    if name is not None:
        found = await run_as(request, principal, queries.find_workflow, namespace_id, name)
        return ok({"items": [unstructure(found)] if found else []})
    listed = await run_as(request, principal, workflows.list_workflows, namespace_id)
    return ok({"items": unstructure(listed)})


async def create_workflow(request: Request) -> Response:
    principal = await authenticate(request)
    name = field(json_object(await read_json(request)), "name", str)
    made = await run_as(
        request, principal, workflows.create_workflow, request.path_params["namespace_id"], name
    )
    return ok(unstructure(made), 201)


async def get_workflow(request: Request) -> Response:
    workflow = await call(request, queries.get_workflow, request.path_params["workflow_id"])
    return ok(unstructure(workflow))


async def delete_workflow(request: Request) -> Response:
    await call(request, workflows.delete_workflow, request.path_params["workflow_id"])
    return Response(status_code=204)


_NS = "/api/namespaces/{namespace_id}"

ROUTES = [
    op(
        "GET",
        "/api/namespaces",
        list_namespaces,
        Doc("Your namespaces", None, items_of("Namespace")),
    ),
    op(
        "POST",
        "/api/namespaces",
        create_namespace,
        Doc("Create a namespace you own", _NAMED, "Namespace", 201),
    ),
    op("GET", _NS, get_namespace, Doc("One namespace", None, "Namespace")),
    op(
        "GET",
        f"{_NS}/workflows",
        list_workflows,
        Doc(
            "The namespace's workflows",
            None,
            items_of("Workflow"),
            query=(("name", "string", "only the workflow of this name"),),
        ),
    ),
    op(
        "POST",
        f"{_NS}/workflows",
        create_workflow,
        Doc("Create a workflow", _NAMED, "Workflow", 201),
    ),
    op("GET", "/api/workflows/{workflow_id}", get_workflow, Doc("One workflow", None, "Workflow")),
    op(
        "DELETE",
        "/api/workflows/{workflow_id}",
        delete_workflow,
        Doc(
            "Delete a workflow: its triggers, webhooks, deployments, executions, dev sessions "
            "and the runtimes no other workflow uses",
            None,
            None,
            204,
        ),
    ),
]
