"""Namespaces and their workflows."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from floww.codec import unstructure
from floww.domain.usecases import queries, workflows
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
from floww.entrypoints.http.openapi import items_of

__all__ = ["ROUTES"]

_NAMED = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


async def list_namespaces(request: Request) -> Response:
    principal = await authenticate(request)
    found = await run_in_threadpool(workflows.list_namespaces, services(request).deps, principal)
    return ok({"items": unstructure(found)})


async def create_namespace(request: Request) -> Response:
    principal = await authenticate(request)
    name = field(json_object(await read_json(request)), "name", str)
    made = await run_in_threadpool(
        workflows.create_namespace, services(request).deps, principal, name
    )
    return ok(unstructure(made), 201)


async def get_namespace(request: Request) -> Response:
    principal = await authenticate(request)
    namespace = await run_in_threadpool(
        queries.get_namespace,
        services(request).deps,
        principal,
        request.path_params["namespace_id"],
    )
    return ok(unstructure(namespace))


async def list_workflows(request: Request) -> Response:
    principal = await authenticate(request)
    deps, namespace_id = services(request).deps, request.path_params["namespace_id"]
    name = request.query_params.get("name")
    if name is not None:
        found = await run_in_threadpool(queries.find_workflow, deps, principal, namespace_id, name)
        return ok({"items": [unstructure(found)] if found else []})
    listed = await run_in_threadpool(workflows.list_workflows, deps, principal, namespace_id)
    return ok({"items": unstructure(listed)})


async def create_workflow(request: Request) -> Response:
    principal = await authenticate(request)
    name = field(json_object(await read_json(request)), "name", str)
    made = await run_in_threadpool(
        workflows.create_workflow,
        services(request).deps,
        principal,
        request.path_params["namespace_id"],
        name,
    )
    return ok(unstructure(made), 201)


async def get_workflow(request: Request) -> Response:
    principal = await authenticate(request)
    workflow = await run_in_threadpool(
        queries.get_workflow, services(request).deps, principal, request.path_params["workflow_id"]
    )
    return ok(unstructure(workflow))


async def delete_workflow(request: Request) -> Response:
    principal = await authenticate(request)
    await run_in_threadpool(
        workflows.delete_workflow,
        services(request).deps,
        principal,
        request.path_params["workflow_id"],
    )
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
