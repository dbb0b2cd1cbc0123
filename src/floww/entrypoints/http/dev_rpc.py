"""The realtime RPC a dev session answers events with (``DEV_REPLY_RPC``), over the connection
it already holds: on the embedded hub's websocket and, in the cloud, through Centrifugo's RPC
proxy (``centrifugo_proxy``). It replaces ``POST /api/dev/replies/<id>`` (still served) by a
message on an open, authenticated connection: no second HTTP request, no identity check per
reply. The caller's reach on the event's workflow is kept per connection for
``REACH_TTL_S`` seconds (``usecases.replies.ReachCache``), and so is, on the embedded hub, the
connection's authentication (``RPC_AUTH_TTL_S``: the same bound; through Centrifugo every RPC
proxy request is authenticated): a removed member, a disabled user or an ended login stops
answering within that time.

An RPC's data is ``{"execution_id", "token", "result"}`` (the HTTP reply's body plus the
execution id); the answer is ``{}``. A refusal is a ``FlowwError``, which the transports send
as an RPC error whose code is the HTTP status the reply route would answer (Centrifugo's
custom error codes start at 400): 400 malformed, 401 a token of another event, 404 an event
out of reach or nobody waiting, 409 answered already.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from floww.domain.errors import FlowwError, InvalidInput, NotFound, Unavailable
from floww.domain.model import InvocationResult, Principal
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.replies import REACH_TTL_S, ReachCache, reply_to_event
from floww.entrypoints.http.errors import status_for
from floww.ports.realtime import DEV_REPLY_RPC
from floww.sdk import wire

__all__ = ["RPC_AUTH_TTL_S", "RpcHandler", "RpcHandlers", "dev_rpc_handlers", "rpc_error"]

RPC_AUTH_TTL_S = REACH_TTL_S

# One connection's handler: (method, data) -> the answer's data; raises ``FlowwError``. May
# block (it runs on a worker thread).
RpcHandler = Callable[[str, Any], Any]
# Makes the handler of a connection authenticated as the principal.
RpcHandlers = Callable[[Principal], RpcHandler]


def dev_rpc_handlers(deps: ServerDeps) -> RpcHandlers:
    def for_connection(principal: Principal) -> RpcHandler:
        reach = ReachCache()

        def handle(method: str, data: Any) -> Any:
            if method != DEV_REPLY_RPC:
                raise NotFound("RPC method", method)
            execution_id, token, result = _reply_fields(data)
            reply_to_event(
                deps,
                principal,
                execution_id=execution_id,
                token=token,
                result=result,
                reach=reach,
            )
            return {}

        return handle

    return for_connection


def rpc_error(exc: FlowwError) -> dict[str, Any]:
    """The RPC error object of a refusal: ``code`` the HTTP status, ``temporary`` when a
    retry may succeed."""
    error: dict[str, Any] = {"code": status_for(exc), "message": str(exc)}
    if isinstance(exc, Unavailable):
        error["temporary"] = True
    return error


def _reply_fields(data: Any) -> tuple[str, str, InvocationResult]:
    if not isinstance(data, dict):
        raise InvalidInput("a dev reply is a JSON object with execution_id, token and result")
    execution_id, token = data.get("execution_id"), data.get("token")
    if not isinstance(execution_id, str) or not execution_id:
        raise InvalidInput("a dev reply needs the string field 'execution_id'")
    if not isinstance(token, str):
        raise InvalidInput("a dev reply needs the string field 'token'")
    if not isinstance(data.get("result"), dict):
        raise InvalidInput("a dev reply needs the object field 'result'")
    try:
        result = wire.result_from_wire(data["result"])
    except InvalidInput as exc:
        raise InvalidInput(f"field 'result': {exc.message}", field="result") from None
    return execution_id, token, result
