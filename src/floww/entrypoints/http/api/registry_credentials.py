"""Short-lived push credentials for a namespace's runtime repository, so a CLI can upload a
runtime image to the server's registry (``/v2/``) without holding a long-lived secret."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from floww.domain.errors import Unavailable
from floww.domain.usecases.access import Action, require_namespace
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

__all__ = ["ROUTES"]


async def push_credentials(request: Request) -> Response:
    principal = await authenticate(request)
    repository = field(json_object(await read_json(request)), "repository", str)
    svc = services(request)
    namespace_id = request.path_params["namespace_id"]

    def issue() -> dict[str, object]:
        require_namespace(svc.deps.repo, principal, namespace_id, Action.DEPLOY)
        if svc.registry is None:
            raise Unavailable("this server has no image registry configured")
        credentials = svc.registry.push_credentials(namespace_id, repository)
        return {
            "registry": credentials.registry,
            "username": credentials.username,
            "password": credentials.password,
            "expires_in": credentials.expires_in,
        }

    return ok(await run_in_threadpool(issue))


_REQUEST = {
    "type": "object",
    "required": ["repository"],
    "properties": {"repository": {"type": "string"}},
}
_CREDENTIALS = {
    "type": "object",
    "required": ["registry", "username", "password", "expires_in"],
    "properties": {
        "registry": {"type": "string"},
        "username": {"type": "string"},
        "password": {"type": "string"},
        "expires_in": {"type": "integer"},
    },
}

ROUTES = [
    op(
        "POST",
        "/api/namespaces/{namespace_id}/registry-credentials",
        push_credentials,
        Doc(
            "Short-lived credentials to push the namespace's runtime images (basic auth)",
            _REQUEST,
            _CREDENTIALS,
        ),
    ),
]
