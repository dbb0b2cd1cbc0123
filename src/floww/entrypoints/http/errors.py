"""The one table from the domain error tree to HTTP statuses, and the JSON error body.

Every error answer is ``{"error": {"type", "message", ...details}}``, ``type`` being the
error's wire name (``floww.domain.errors.error_type_name``), which the API client reads back.
Unexpected exceptions become a bare 500 whose body names nothing internal; the log line keeps
the exception class and the stack (file, line, function) but neither source lines nor the
exception message, which may carry secrets.
"""

from __future__ import annotations

import logging
import math
import traceback
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from floww.domain.errors import (
    Conflict,
    DeadlineExceeded,
    DeviceAuthorizationPending,
    ExecutionFailed,
    FlowwError,
    InvalidInput,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    PermissionDenied,
    ProviderNotConfigured,
    RateLimited,
    Unauthenticated,
    Unavailable,
    UserCodeError,
    error_type_name,
)

__all__ = [
    "STATUS_BY_ERROR",
    "CatchAllMiddleware",
    "error_body",
    "floww_error_response",
    "http_exception_response",
    "retry_after",
    "status_for",
]

logger = logging.getLogger("floww.http")

# Most specific first: the first class the error is an instance of decides.
STATUS_BY_ERROR: tuple[tuple[type[FlowwError], int], ...] = (
    (PayloadTooLarge, 413),
    (UserCodeError, 422),
    (DeviceAuthorizationPending, 400),
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (ProviderNotConfigured, 422),
    (RateLimited, 429),
    (Unavailable, 503),
    (DeadlineExceeded, 504),
    # The user's handler failed: the platform worked, the upstream code did not.
    (ExecutionFailed, 502),
    (FlowwError, 400),
)

_HTTP_TYPES = {
    404: "NotFound",
    405: "MethodNotAllowed",
    400: "InvalidInput",
    413: "PayloadTooLarge",
}


def status_for(exc: FlowwError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 400  # unreachable: FlowwError closes the table


def error_body(type_: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, **details}}


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


def floww_error_response(exc: FlowwError) -> JSONResponse:
    status = status_for(exc)
    details = {k: _json_safe(v) for k, v in exc.details.items() if k not in {"type", "message"}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(exc, RateLimited | Overloaded):
        headers["Retry-After"] = retry_after(exc)
    return JSONResponse(
        error_body(error_type_name(exc), exc.message, **details), status, headers=headers
    )


def retry_after(exc: RateLimited | Overloaded) -> str:
    """The ``Retry-After`` value: whole seconds, rounded up, at least one."""
    return str(max(1, math.ceil(exc.retry_after_s)))


async def _floww_error_handler(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, FlowwError)
    return floww_error_response(exc)


def http_exception_response(exc: HTTPException) -> Response:
    type_ = _HTTP_TYPES.get(exc.status_code, "HttpError")
    message = {
        404: "no such route",
        405: "method not allowed on this route",
    }.get(exc.status_code, str(exc.detail))
    return JSONResponse(error_body(type_, message), exc.status_code, headers=exc.headers)


async def _http_exception_handler(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return http_exception_response(exc)


EXCEPTION_HANDLERS = {FlowwError: _floww_error_handler, HTTPException: _http_exception_handler}


class CatchAllMiddleware:
    """Turns any exception that escaped the routes into a 500 without internals; a client that
    went away while its request was read (``ClientDisconnect``) is no error and gets no answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            # the client went away before its request was read: nothing failed here, and
            # nobody is left to answer
            logger.info("client went away during %s %s", scope.get("method"), scope.get("path"))
        except Exception as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            stack = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in frames)
            logger.error(
                "unhandled %s on %s %s\n%s",
                type(exc).__name__,
                scope.get("method"),
                scope.get("path"),
                stack,
            )
            if not started:
                response = JSONResponse(error_body("Internal", "internal error"), 500)
                await response(scope, receive, send)
