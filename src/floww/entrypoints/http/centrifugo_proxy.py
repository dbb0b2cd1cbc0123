"""Centrifugo's connect and subscribe proxy endpoints: Centrifugo asks the server whether a
client may connect, and whether it may subscribe to a channel.

Centrifugo must forward the client's ``Authorization`` header on both (``http_headers``; see
docs/cloud-realtime.md). The token in it is checked by ``authenticate`` (whatever identity
provider is configured, and floww's own tokens); the channel by ``may_subscribe`` (the one
access rule of the platform). Answers, in Centrifugo's proxy result format (HTTP 200):

- ``POST /centrifugo/connect``: ``{"result": {"user": <principal id>}}``; no token or a bad
  one: ``{"disconnect": {"code": 4501, "reason": "unauthorized"}}`` (the client does not
  reconnect); the identity provider unreachable: ``{"error": {"code": 503, ...,
  "temporary": true}}`` (the client retries).
- ``POST /centrifugo/subscribe``: ``{"result": {}}`` when the token's principal is the
  connection's ``user`` and may listen on ``channel``; otherwise ``{"error": {"code": 403,
  "message": "permission denied"}}`` (the client does not resubscribe); a bad token as above.

- ``POST /centrifugo/rpc`` (with ``rpc`` given): a client's RPC over its connection
  (``dev_rpc``: a dev session's reply). The token is authenticated as above and must be the
  connection's ``user``; ``{"result": {"data": ...}}`` when the handler answers, ``{"error":
  {"code": <the HTTP status of the refusal>, "message"}}`` when it refuses. Each connection
  (``client``, with the token's principal) keeps its handler, and so its reach cache, among the
  last ``RPC_CONNECTIONS`` connections.

A request body that is not a proxy request (not a JSON object, no ``client``, no ``channel``,
an RPC without ``user`` or with a ``method`` that is not a string) gets HTTP 400 with a
reason.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from floww.domain.errors import (
    FlowwError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
)
from floww.domain.model import Principal
from floww.entrypoints.http.codec import read_body
from floww.entrypoints.http.dev_rpc import RpcHandler, RpcHandlers, rpc_error

__all__ = ["CONNECT_PATH", "RPC_CONNECTIONS", "RPC_PATH", "SUBSCRIBE_PATH", "proxy_routes"]

CONNECT_PATH = "/centrifugo/connect"
SUBSCRIBE_PATH = "/centrifugo/subscribe"
RPC_PATH = "/centrifugo/rpc"
RPC_CONNECTIONS = 4096

log = logging.getLogger("floww.realtime")

_UNAUTHORIZED = {"disconnect": {"code": 4501, "reason": "unauthorized"}}
# An RPC whose token no longer stands (it expired an hour after the connection was made, or
# was revoked) is refused, not disconnected: the CLI answers over HTTP with the token it keeps
# fresh, and its connection goes on delivering events.
RPC_TOKEN_REFUSED = 1401
_RPC_UNAUTHORIZED = {"error": {"code": RPC_TOKEN_REFUSED, "message": "unauthorized"}}
_RPC_INTERNAL = {"error": {"code": 100, "message": "internal server error"}}
MAX_PROXY_BODY_BYTES = 2 * 1024 * 1024
"""A proxy request's size limit: an RPC carries a dev session's answer (the HTTP reply takes
up to the server's webhook body limit, 1 MiB by default), with Centrifugo's envelope."""
_DENIED = {"error": {"code": 403, "message": "permission denied"}}
_UNAVAILABLE = {
    "error": {"code": 503, "message": "identity provider unavailable", "temporary": True}
}


def _bad(reason: str) -> JSONResponse:
    return JSONResponse({"error": {"type": "InvalidInput", "message": reason}}, 400)


async def _proxy_request(request: Request, *required: str) -> dict[str, Any] | JSONResponse:
    try:
        body = json.loads(await read_body(request, MAX_PROXY_BODY_BYTES))
    except PayloadTooLarge as exc:
        return JSONResponse({"error": {"type": "PayloadTooLarge", "message": str(exc)}}, 413)
    except (ValueError, RecursionError):
        return _bad("a Centrifugo proxy request is a JSON object")
    if not isinstance(body, dict):
        return _bad("a Centrifugo proxy request is a JSON object")
    for name in required:
        if not isinstance(body.get(name), str):
            return _bad(f"a Centrifugo proxy request needs the string field {name!r}")
    return body


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class _Handlers:
    """The RPC handler of each recent connection, made on its first RPC; the least recently
    used goes past ``RPC_CONNECTIONS``."""

    def __init__(self, make: RpcHandlers) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._handlers: OrderedDict[tuple[str, Principal], RpcHandler] = OrderedDict()

    def of(self, client: str, principal: Principal) -> RpcHandler:
        key = (client, principal)
        with self._lock:
            handler = self._handlers.get(key)
            if handler is None:
                handler = self._handlers[key] = self._make(principal)
                if len(self._handlers) > RPC_CONNECTIONS:
                    self._handlers.popitem(last=False)
            else:
                self._handlers.move_to_end(key)
            return handler


def proxy_routes(
    *,
    authenticate: Callable[[str], Principal],
    may_subscribe: Callable[[Principal, str], bool],
    rpc: RpcHandlers | None = None,
) -> list[BaseRoute]:
    """The proxy routes: connect and subscribe, and RPC when ``rpc`` makes the handlers.
    ``authenticate``, ``may_subscribe`` and the handlers may block."""

    async def principal_of(request: Request) -> Principal | dict[str, Any]:
        token = _bearer(request)
        if not token:
            return _UNAUTHORIZED
        try:
            return await run_in_threadpool(authenticate, token)
        except Unauthenticated:
            return _UNAUTHORIZED
        except FlowwError as exc:
            log.warning("centrifugo proxy: authentication failed: %s", exc)
            return _UNAVAILABLE

    async def connect(request: Request) -> JSONResponse:
        body = await _proxy_request(request, "client")
        if isinstance(body, JSONResponse):
            return body
        principal = await principal_of(request)
        if isinstance(principal, dict):
            return JSONResponse(principal)
        return JSONResponse({"result": {"user": principal.id}})

    async def subscribe(request: Request) -> JSONResponse:
        body = await _proxy_request(request, "client", "channel", "user")
        if isinstance(body, JSONResponse):
            return body
        principal = await principal_of(request)
        if isinstance(principal, dict):
            return JSONResponse(principal)
        if principal.id != body["user"]:
            return JSONResponse(_DENIED)
        try:
            allowed = await run_in_threadpool(may_subscribe, principal, body["channel"])
        except (NotFound, PermissionDenied, Unauthenticated):
            allowed = False
        except FlowwError as exc:
            log.warning("centrifugo proxy: subscribe check failed: %s", exc)
            return JSONResponse(_UNAVAILABLE)
        return JSONResponse({"result": {}} if allowed else _DENIED)

    handlers = _Handlers(rpc) if rpc is not None else None

    async def rpc_call(request: Request) -> JSONResponse:
        assert handlers is not None
        body = await _proxy_request(request, "client", "user")
        if isinstance(body, JSONResponse):
            return body
        method = body.get("method", "")  # Centrifugo leaves it out for an unnamed RPC
        if not isinstance(method, str):
            return _bad("a Centrifugo RPC proxy request's method is a string")
        principal = await principal_of(request)
        if isinstance(principal, dict):
            return JSONResponse(_RPC_UNAUTHORIZED if principal is _UNAUTHORIZED else principal)
        if principal.id != body["user"]:
            return JSONResponse(_DENIED)
        handler = handlers.of(body["client"], principal)
        try:
            data = await run_in_threadpool(handler, method, body.get("data"))
        except FlowwError as exc:
            return JSONResponse({"error": rpc_error(exc)})
        except Exception:
            log.exception("centrifugo proxy: the %r RPC failed", method)
            return JSONResponse(_RPC_INTERNAL)
        return JSONResponse({"result": {"data": data}})

    routes: list[BaseRoute] = [
        Route(CONNECT_PATH, connect, methods=["POST"]),
        Route(SUBSCRIBE_PATH, subscribe, methods=["POST"]),
    ]
    if handlers is not None:
        routes.append(Route(RPC_PATH, rpc_call, methods=["POST"]))
    return routes
