"""The local webhook server of ``floww dev``: the workflow's webhooks on this machine, on the
same paths and methods as in production (``http://127.0.0.1:8765/hello/{name}`` for the
server's ``/webhook/<workflow id>/hello/{name}``), answering with the handler's result exactly
as the server renders it.

Routes follow the current code: each request is matched against the dev triggers of the last
good load, so a reload changes them without restarting the server.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from floww.domain.errors import (
    DeadlineExceeded,
    FlowwError,
    PayloadTooLarge,
    Unavailable,
    error_type_name,
)
from floww.domain.model import ErrorInfo, Execution, ExecutionStatus, InvocationResult, TriggerSpec
from floww.domain.paths import PathTemplate
from floww.domain.routing import allowed_methods, most_specific
from floww.domain.usecases.webhooks import method_not_allowed, response_for, webhook_event
from floww.entrypoints.http.errors import floww_error_response
from floww.entrypoints.http.webhooks import METHODS, render

__all__ = [
    "DEFAULT_PORT",
    "LocalWebhookServer",
    "RunEvent",
    "local_webhook_app",
    "match_webhook",
]

DEFAULT_PORT = 8765
_MAX_BODY = 6 * 1024 * 1024

RunEvent = Callable[[TriggerSpec, dict[str, Any]], InvocationResult]


def _served(specs: Sequence[TriggerSpec]) -> list[tuple[str, PathTemplate, TriggerSpec]]:
    """``(method, template, spec)`` of every builtin webhook route in ``specs``."""
    return [
        (str(method).upper(), PathTemplate.parse(str(spec.input.get("path", "/"))), spec)
        for spec in specs
        if spec.provider.type == "builtin" and spec.trigger_type == "webhook"
        for method in spec.input.get("methods") or ["POST"]
    ]


def match_webhook(
    specs: Sequence[TriggerSpec], method: str, path: str
) -> tuple[TriggerSpec, dict[str, str]] | None:
    """The builtin webhook trigger that ``method path`` reaches, with its path parameters,
    ranked as the server ranks them (``floww.domain.routing``)."""
    wanted = method.upper()
    return most_specific(((t, spec) for m, t, spec in _served(specs) if m == wanted), path)


def _headers(request: Request) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in request.headers.items():
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def _answer(result: InvocationResult, workflow_id: str, execution_id: str) -> Response:
    status = ExecutionStatus.COMPLETED if result.ok else ExecutionStatus.FAILED
    if (
        not result.ok
        and result.error is not None
        and result.error.type == error_type_name(DeadlineExceeded)
    ):
        status = ExecutionStatus.TIMED_OUT
    execution = Execution(
        id=execution_id,
        workflow_id=workflow_id,
        trigger_id="",
        status=status,
        received_at=datetime.now(UTC),
        result=result.result,
    )
    return render(response_for(execution))


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status)


def local_webhook_app(
    routes: Callable[[], Sequence[TriggerSpec]],
    run: RunEvent,
    *,
    workflow_id: str = "",
    max_body_bytes: int = _MAX_BODY,
) -> Starlette:
    """A Starlette app serving the webhooks ``routes()`` declares; ``run`` executes one event
    on the current code (``DeadlineExceeded`` becomes 504, other floww errors 503)."""
    counter = iter(range(1, 1 << 62))

    async def webhook(request: Request) -> Response:
        method, path = request.method.upper(), request.url.path
        specs = routes()
        found = match_webhook(specs, method, path)
        if found is None:
            served = _served(specs)
            allowed = allowed_methods(((m, t) for m, t, _ in served), path)
            if allowed:
                return render(method_not_allowed(method, path, allowed))
            known = sorted({f"{m} {spec.input.get('path')}" for m, _, spec in served})
            hint = f"; this code serves: {', '.join(known)}" if known else ""
            return _error(404, "NotFound", f"webhook {method} {path} not found{hint}")
        spec, params = found
        body = await request.body()
        if len(body) > max_body_bytes:
            return floww_error_response(PayloadTooLarge(len(body), max_body_bytes))
        headers = _headers(request)
        event = webhook_event(method, path, headers, dict(request.query_params), body, params)
        execution_id = f"local-{next(counter)}"
        try:
            result = await run_in_threadpool(run, spec, event)
        except DeadlineExceeded as exc:
            result = InvocationResult(ok=False, error=ErrorInfo(error_type_name(exc), str(exc)))
        except FlowwError as exc:
            return _error(503, error_type_name(exc), str(exc))
        return _answer(result, workflow_id, execution_id)

    return Starlette(routes=[Route("/{path:path}", webhook, methods=METHODS)])


def _bind(port: int) -> socket.socket:
    """Bind 127.0.0.1:``port``; a free port when it is taken (or when ``port`` is 0)."""
    for candidate in dict.fromkeys([port, 0]):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", candidate))
        except OSError:
            sock.close()
            continue
        sock.set_inheritable(True)
        return sock
    raise Unavailable("could not bind a local port for the webhook server")


class LocalWebhookServer:
    """uvicorn on 127.0.0.1 in a background thread. ``start`` returns once it listens and
    raises ``Unavailable`` when it cannot; ``stop`` waits for it to finish."""

    def __init__(self, app: Starlette, port: int = DEFAULT_PORT) -> None:
        self._app = app
        self._wanted = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> str:
        sock = _bind(self._wanted)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(self._app, log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="floww-dev-http", daemon=True
        )
        self._thread.start()
        waited = threading.Event()
        for _ in range(int(timeout / 0.02)):
            if server.started or not self._thread.is_alive():
                break
            waited.wait(0.02)
        if not server.started:
            self.stop()
            raise Unavailable(f"the local webhook server did not start on port {self.port}")
        return self.url

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
