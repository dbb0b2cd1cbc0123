"""A namespace's runtimes: find one by the spec hash of its dependency set, or create one from
an image already in the registry."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from floww.codec import unstructure
from floww.domain.errors import NotFound
from floww.domain.usecases import deployments, queries
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

__all__ = ["ROUTES"]


async def find_runtime(request: Request) -> Response:
    spec_hash = request.path_params["spec_hash"]
    runtime = await call(
        request, queries.find_runtime, request.path_params["namespace_id"], spec_hash
    )
    if runtime is None:
        raise NotFound("runtime", spec_hash)
    return ok(unstructure(runtime))


async def create_runtime(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    spec_hash, image_ref = field(doc, "spec_hash", str), field(doc, "image_ref", str)
    runtime = await run_as(
        request,
        principal,
        deployments.create_runtime,
        namespace_id=request.path_params["namespace_id"],
        spec_hash=spec_hash,
        image_ref=image_ref,
    )
    return ok(unstructure(runtime), 201)


_CREATE = {
    "type": "object",
    "required": ["spec_hash", "image_ref"],
    "properties": {"spec_hash": {"type": "string"}, "image_ref": {"type": "string"}},
}

ROUTES = [
    op(
        "GET",
        "/api/namespaces/{namespace_id}/runtimes/{spec_hash}",
        find_runtime,
        Doc("The namespace's runtime for a spec hash (404 when none)", None, "Runtime"),
    ),
    op(
        "POST",
        "/api/namespaces/{namespace_id}/runtimes",
        create_runtime,
        Doc("Find or create the runtime for a spec hash", _CREATE, "Runtime", 201),
    ),
]
