"""Request parsing, calling use cases (``call``, ``run_as``) and response rendering, shared by
the routes.

Parsing is where untrusted input meets the use cases: every helper raises ``InvalidInput`` (or
``PayloadTooLarge``) naming the offending field, so a route never sees a malformed value.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive

from floww.codec import unstructure
from floww.domain.errors import InvalidInput, PayloadTooLarge, Unauthenticated
from floww.domain.model import Deployment, Execution, Principal
from floww.domain.usecases.authentication import authenticate as authenticate_token
from floww.domain.usecases.deps import ServerDeps
from floww.sdk.wire import spec_to_wire

if TYPE_CHECKING:
    from floww.entrypoints.http.app import HttpServices

__all__ = [
    "ApiRoute",
    "Doc",
    "authenticate",
    "call",
    "decoded_field",
    "deployment_json",
    "execution_json",
    "field",
    "json_object",
    "ok",
    "op",
    "optional_field",
    "read_body",
    "read_json",
    "read_raw_body",
    "run_as",
    "services",
]

T = TypeVar("T")
P = ParamSpec("P")
Endpoint = Callable[[Request], Awaitable[Response]]


@attrs.frozen
class Doc:
    """What the OpenAPI document says about one operation. ``body`` and ``response`` are a
    component name or an inline JSON schema; ``query`` lists ``(name, type, description)``."""

    summary: str
    body: str | dict[str, Any] | None = None
    response: str | dict[str, Any] | None = None
    status: int = 200
    query: tuple[tuple[str, str, str], ...] = ()
    auth: bool = True
    tag: str = "api"


class ApiRoute(Route):
    """A route that carries its documentation."""

    def __init__(
        self, path: str, endpoint: Endpoint | ASGIApp, *, methods: list[str], doc: Doc
    ) -> None:
        super().__init__(path, endpoint, methods=methods)
        self.doc = doc


def op(method: str, path: str, endpoint: Endpoint, doc: Doc) -> ApiRoute:
    return ApiRoute(path, endpoint, methods=[method], doc=doc)


def services(request: Request) -> HttpServices:
    return cast("HttpServices", request.app.state.services)


async def authenticate(request: Request) -> Principal:
    """The caller of ``Authorization: Bearer <token>``; ``Unauthenticated`` otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    deps = services(request).deps
    return await run_in_threadpool(
        functools.partial(
            authenticate_token, token.strip(), identity=deps.identity, tokens=deps.tokens
        )
    )


async def run_as(
    request: Request,
    principal: Principal,
    usecase: Callable[Concatenate[ServerDeps, Principal, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``usecase(deps, principal, *args, **kwargs)`` on the threadpool: use cases block (on the
    database), the event loop must not."""
    return await run_in_threadpool(usecase, services(request).deps, principal, *args, **kwargs)


async def call(
    request: Request,
    usecase: Callable[Concatenate[ServerDeps, Principal, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``run_as`` for the caller, authenticated first. The arguments are evaluated before
    that: a route that reads its body calls ``authenticate`` and then ``run_as`` instead, so a
    caller without a token never has a body read."""
    return await run_as(request, await authenticate(request), usecase, *args, **kwargs)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, read chunk by chunk; ``PayloadTooLarge`` as soon as it passes ``limit``
    (or when ``Content-Length`` announces more), without keeping what was read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            chunks.clear()
            raise PayloadTooLarge(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_raw_body(receive: Receive, declared: str, limit: int) -> bytes:
    """``read_body`` for a bare ASGI route: the body from ``receive``, ``declared`` being its
    ``Content-Length`` header (or ``""``); ``ClientDisconnect`` when the client went away."""
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] != "http.request":
            continue
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                chunks.clear()
                raise PayloadTooLarge(size, limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise InvalidInput(f"request body is not JSON: {name} is not allowed")


async def read_json(request: Request, limit: int | None = None) -> Any:
    """The JSON body, at most ``limit`` bytes (``settings.max_body_bytes`` by default);
    ``InvalidInput`` when it is empty or malformed."""
    settings = services(request).deps.settings
    raw = await read_body(request, settings.max_body_bytes if limit is None else limit)
    if not raw.strip():
        raise InvalidInput("request body must be a JSON document")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("request body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"request body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidInput("request body is nested too deeply") from None


def json_object(value: Any, what: str = "request body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return {
        type(None): "null",
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _check(value: Any, name: str, kind: type[T]) -> T:
    wrong = not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))
    if wrong:
        expected = {str: "a string", dict: "an object", list: "an array", bool: "a boolean"}
        raise InvalidInput(
            f"field {name!r} must be {expected.get(kind, kind.__name__)}, got {_kind(value)}",
            field=name,
        )
    return cast(T, value)


def field(doc: dict[str, Any], name: str, kind: type[T]) -> T:
    """``doc[name]`` checked to be a ``kind``; ``InvalidInput`` naming the field otherwise."""
    if name not in doc:
        raise InvalidInput(f"field {name!r} is required", field=name)
    return _check(doc[name], name, kind)


def decoded_field(doc: dict[str, Any], name: str, decode: Callable[[dict[str, Any]], T]) -> T:
    """``decode(doc[name])`` of an object field (a wire form such as a code bundle); any
    ``InvalidInput``, the field's own included, says which field it is about."""
    try:
        return decode(field(doc, name, dict))
    except InvalidInput as exc:
        raise InvalidInput(f"field {name!r}: {exc.message}", field=name) from None


def optional_field(doc: dict[str, Any], name: str, kind: type[T], default: T) -> T:
    if doc.get(name) is None:
        return default
    return _check(doc[name], name, kind)


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"query {name!r} must be an integer from {low} to {high}", field=name)
    return int(raw)


def query_datetime(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"query {name!r} must be an ISO-8601 datetime", field=name) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"query {name!r} needs a time zone offset", field=name)
    return moment


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status)


def deployment_json(deployment: Deployment) -> dict[str, Any]:
    """A deployment without its code files (they can be large); the digest names them."""
    return {
        "id": deployment.id,
        "workflow_id": deployment.workflow_id,
        "runtime_id": deployment.runtime_id,
        "code": {"digest": deployment.code.digest, "entrypoint": deployment.code.entrypoint},
        "triggers": [spec_to_wire(spec) for spec in deployment.triggers],
        "provider_mapping": dict(deployment.provider_mapping),
        "status": deployment.status.value,
        "created_at": deployment.created_at.isoformat() if deployment.created_at else None,
        "created_by": deployment.created_by,
    }


def execution_json(execution: Execution, *, full: bool) -> dict[str, Any]:
    """An execution; list entries leave out the event and the logs. The lease (``owner``,
    ``lease_expires_at``) is the servers' business and names their processes: never shown."""
    doc: dict[str, Any] = unstructure(execution)
    doc.pop("owner", None)
    doc.pop("lease_expires_at", None)
    if not full:
        doc.pop("event", None)
        doc.pop("logs", None)
        if doc.get("error"):
            doc["error"].pop("traceback", None)
    return doc
