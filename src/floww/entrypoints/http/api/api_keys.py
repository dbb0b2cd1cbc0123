"""API keys of a namespace, for CI (``FLOWW_TOKEN``):

    POST   /api/namespaces/{namespace_id}/api-keys            {"name", "scope"?} -> 201 key + info
    GET    /api/namespaces/{namespace_id}/api-keys            the caller's keys, no secrets
    DELETE /api/namespaces/{namespace_id}/api-keys/{key_id}   -> 204

The plain-text key is in the answer of ``POST`` and nowhere else. ``scope`` is ``full``,
``deploy`` (the default) or ``read``; a ``full`` key is needed to read provider secrets. A
server without an ``ApiKeys`` service answers 503 saying so.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from floww.domain.model import ApiKey
from floww.domain.roles import API_KEY_SCOPES, DEFAULT_API_KEY_SCOPE
from floww.domain.usecases import api_keys
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    call,
    field,
    json_object,
    ok,
    op,
    optional_field,
    read_json,
    run_as,
)

__all__ = ["ROUTES", "api_key_json"]


def api_key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "namespace_id": key.namespace_id,
        "created_at": key.created_at.isoformat(),
        "hint": key.hint,
        "scope": key.scope,
    }


async def create_key(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    plaintext, key = await run_as(
        request,
        principal,
        api_keys.create_api_key,
        request.path_params["namespace_id"],
        field(doc, "name", str),
        optional_field(doc, "scope", str, DEFAULT_API_KEY_SCOPE),
    )
    return ok({"key": plaintext, "api_key": api_key_json(key)}, 201)


async def list_keys(request: Request) -> Response:
    found = await call(request, api_keys.list_api_keys, request.path_params["namespace_id"])
    return ok({"items": [api_key_json(key) for key in found]})


async def revoke_key(request: Request) -> Response:
    await call(
        request,
        api_keys.revoke_api_key,
        request.path_params["namespace_id"],
        request.path_params["key_id"],
    )
    return Response(status_code=204)


_STR = {"type": "string"}
_API_KEY = {
    "type": "object",
    "required": ["id", "name", "namespace_id", "created_at", "hint"],
    "properties": {
        "id": _STR,
        "name": _STR,
        "namespace_id": _STR,
        "created_at": _STR,
        "hint": {"type": "string", "description": "the key's last characters, e.g. floww_...x7Qa"},
        "scope": {"enum": list(API_KEY_SCOPES)},
    },
}
_NAMED = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": _STR, "scope": {"enum": list(API_KEY_SCOPES)}},
}
_CREATED = {
    "type": "object",
    "required": ["key", "api_key"],
    "properties": {
        "key": {"type": "string", "description": "the key itself; shown this once only"},
        "api_key": _API_KEY,
    },
}
_LISTED = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": _API_KEY}},
}
_KEYS = "/api/namespaces/{namespace_id}/api-keys"

ROUTES = [
    op(
        "POST",
        _KEYS,
        create_key,
        Doc(
            "Create an API key for CI (FLOWW_TOKEN); the key is in this answer only",
            _NAMED,
            _CREATED,
            status=201,
            tag="api-keys",
        ),
    ),
    op(
        "GET",
        _KEYS,
        list_keys,
        Doc(
            "Your API keys of this namespace (never the keys themselves)",
            None,
            _LISTED,
            tag="api-keys",
        ),
    ),
    op(
        "DELETE",
        _KEYS + "/{key_id}",
        revoke_key,
        Doc("Revoke an API key; it stops working at once", status=204, tag="api-keys"),
    ),
]
