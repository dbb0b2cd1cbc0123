"""``GET /api/workflows/{workflow_id}/code/{digest}``: a deployment's code bundle, for runtimes
that fetch the code they run by digest (the Lambda entry, with its execution token)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from floww.domain.usecases.code import deployed_code
from floww.entrypoints.http.codec import Doc, call, ok, op

__all__ = ["ROUTES"]


async def get_code(request: Request) -> Response:
    code = await call(
        request, deployed_code, request.path_params["workflow_id"], request.path_params["digest"]
    )
    return ok({"digest": code.digest, "entrypoint": code.entrypoint, "files": dict(code.files)})


_CODE = {
    "type": "object",
    "required": ["digest", "entrypoint", "files"],
    "properties": {
        "digest": {"type": "string"},
        "entrypoint": {"type": "string"},
        "files": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

ROUTES = [
    op(
        "GET",
        "/api/workflows/{workflow_id}/code/{digest}",
        get_code,
        Doc("A deployment's code bundle by digest", response=_CODE),
    ),
]
