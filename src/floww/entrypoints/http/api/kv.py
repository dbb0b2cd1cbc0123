"""The KV store as ``floww.sdk.kv.HttpKvBackend`` calls it:

    GET/PUT/DELETE /api/kv/{key}   GET /api/kv?prefix=...

Execution tokens work on their own namespace; users add ``?namespace=<id>``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from floww.domain.errors import InvalidInput
from floww.domain.usecases import kv
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    call,
    json_object,
    ok,
    op,
    read_json,
    run_as,
)
from floww.entrypoints.http.openapi import ref

__all__ = ["ROUTES"]

_NAMESPACE = ("namespace", "string", "the namespace (users only; tokens know theirs)")


async def list_items(request: Request) -> Response:
    found = await call(
        request,
        kv.kv_list,
        request.query_params.get("namespace"),
        request.query_params.get("prefix", ""),
    )
    return ok({"items": [{"key": i.key, "value": i.value} for i in found]})


async def get_item(request: Request) -> Response:
    item = await call(
        request, kv.kv_get, request.query_params.get("namespace"), request.path_params["key"]
    )
    return ok({"key": item.key, "value": item.value, "updated_at": item.updated_at.isoformat()})


async def put_item(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request))
    if "value" not in doc:
        raise InvalidInput("field 'value' is required", field="value")
    item = await run_as(
        request,
        principal,
        kv.kv_put,
        request.query_params.get("namespace"),
        request.path_params["key"],
        doc["value"],
    )
    return ok({"key": item.key, "value": item.value, "updated_at": item.updated_at.isoformat()})


async def delete_item(request: Request) -> Response:
    await call(
        request, kv.kv_delete, request.query_params.get("namespace"), request.path_params["key"]
    )
    return Response(status_code=204)


_ITEMS = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": ref("KvItem")}},
}
_VALUE = {"type": "object", "required": ["value"], "properties": {"value": {}}}
_KEY = "/api/kv/{key:path}"

ROUTES = [
    op(
        "GET",
        "/api/kv",
        list_items,
        Doc(
            "Items whose key starts with a prefix",
            None,
            _ITEMS,
            query=(("prefix", "string", "key prefix"), _NAMESPACE),
            tag="kv",
        ),
    ),
    op("GET", _KEY, get_item, Doc("One item", None, "KvItem", query=(_NAMESPACE,), tag="kv")),
    op("PUT", _KEY, put_item, Doc("Set an item", _VALUE, "KvItem", query=(_NAMESPACE,), tag="kv")),
    op(
        "DELETE",
        _KEY,
        delete_item,
        Doc("Remove an item", status=204, query=(_NAMESPACE,), tag="kv"),
    ),
]
