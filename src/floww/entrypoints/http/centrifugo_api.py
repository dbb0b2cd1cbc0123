"""The part of Centrifugo's server HTTP API that floww uses, answered from a realtime hub, so
that the embedded hub can stand in for Centrifugo (see ``centrifuge_edge``, proxy mode).

- ``POST /api/publish`` ``{"channel", "data"}``: ``data`` (a JSON object) goes to the channel's
  current subscribers; answers ``{"result": {}}``.
- ``POST /api/presence_stats`` ``{"channel"}``: ``{"result": {"num_clients", "num_users"}}``
  (``num_users`` counts clients too: the hub does not know users).

Every request needs the API key in ``X-API-Key`` (or ``Authorization: apikey <key>``); without
it the answer is HTTP 401. A body that is not a JSON object, a missing channel or non-object
data answer ``{"error": {"code": 107, "message": "bad request"}}``, as Centrifugo does. Not
played: the other methods, batching, history, tags, idempotency keys, the GRPC API.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from floww.domain.errors import FlowwError
from floww.ports.realtime import RealtimeHub

__all__ = ["server_api_routes"]


def _bad_request() -> JSONResponse:
    return JSONResponse({"error": {"code": 107, "message": "bad request"}})


def _key_of(request: Request) -> str:
    key = request.headers.get("x-api-key", "")
    if key:
        return key
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "apikey" else ""


def server_api_routes(hub: RealtimeHub, api_key: str) -> list[BaseRoute]:
    """``/api/publish`` and ``/api/presence_stats`` over ``hub``, guarded by ``api_key``."""

    def guarded(
        handle: Callable[[dict[str, Any]], dict[str, Any] | None],
    ) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if not api_key or not hmac.compare_digest(
                _key_of(request).encode("utf-8", "surrogateescape"), api_key.encode()
            ):
                return JSONResponse({"error": {"code": 401, "message": "unauthorized"}}, 401)
            try:
                params = json.loads(await request.body())
            except ValueError:
                return _bad_request()
            if not isinstance(params, dict):
                return _bad_request()
            channel = params.get("channel")
            if not isinstance(channel, str) or not channel:
                return _bad_request()
            try:
                result = await run_in_threadpool(handle, params)
            except FlowwError:
                return JSONResponse({"error": {"code": 100, "message": "internal server error"}})
            if result is None:
                return _bad_request()
            return JSONResponse({"result": result})

        return endpoint

    def publish(params: dict[str, Any]) -> dict[str, Any] | None:
        data = params.get("data")
        if not isinstance(data, dict):
            return None
        hub.publish(params["channel"], data)
        return {}

    def presence_stats(params: dict[str, Any]) -> dict[str, Any] | None:
        count = hub.subscriber_count(params["channel"])
        return {"num_clients": count, "num_users": count}

    return [
        Route("/api/publish", guarded(publish), methods=["POST"]),
        Route("/api/presence_stats", guarded(presence_stats), methods=["POST"]),
    ]
