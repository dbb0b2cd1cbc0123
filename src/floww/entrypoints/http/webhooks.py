"""Webhook ingress: ``/webhook/{workflow_id}/{path}``, any method, handed to
``usecases.webhooks.handle_webhook`` with the raw body kept byte-exact.

The body is read chunk by chunk and refused with 413 past ``settings.max_body_bytes`` before
anything is stored.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
from collections.abc import Iterator

import anyio
from starlette.requests import Request
from starlette.responses import Response

from floww.domain.errors import Overloaded
from floww.domain.providers import path_body_limit
from floww.domain.usecases.webhooks import IncomingRequest, WebhookResponse, handle_webhook
from floww.entrypoints.http.codec import ApiRoute, Doc, read_body, services

__all__ = ["METHODS", "ROUTES", "render"]

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _headers(request: Request) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in request.headers.items():  # names arrive lower-cased
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def render(answer: WebhookResponse) -> Response:
    """JSON for dicts, lists, numbers and booleans; ``text/plain`` for a string; no body for
    ``None``. The handler's own headers win, except ``content-length``."""
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
    # Webhooks share the platform's origin: no answer is sniffed into something else.
    headers["X-Content-Type-Options"] = "nosniff"
    has_type = any(k.lower() == "content-type" for k in headers)
    if answer.body is None:
        return Response(status_code=answer.status, headers=headers)
    if isinstance(answer.body, str):
        body = answer.body.encode()
        media = None if has_type else "text/plain; charset=utf-8"
    else:
        body = json.dumps(answer.body, ensure_ascii=False, allow_nan=False).encode()
        media = None if has_type else "application/json"
    return Response(body, answer.status, headers=headers, media_type=media)


async def webhook(request: Request) -> Response:
    deps = services(request).deps
    path = "/" + request.path_params["path"]
    body = await read_body(request, path_body_limit(path, deps.settings.max_body_bytes))
    incoming = IncomingRequest(
        workflow_id=request.path_params["workflow_id"],
        method=request.method.upper(),
        path=path,
        headers=_headers(request),
        query=dict(request.query_params),
        body=body,
    )
    # Webhook callers may wait for handlers for up to the response deadline: they get threads of
    # their own, so the API (and the dev replies they wait for) never queues behind them; and
    # one workflow holds a bounded share of them, so its callers never starve another's.
    limiter = _limiter(request)
    with _workflow_share(request, incoming.workflow_id, deps.settings.webhook_calls_per_workflow):
        answer = await anyio.to_thread.run_sync(handle_webhook, deps, incoming, limiter=limiter)
    return render(answer)


WEBHOOK_THREADS = 200


@contextlib.contextmanager
def _workflow_share(request: Request, workflow_id: str, limit: int) -> Iterator[None]:
    """One call of ``workflow_id`` in flight; ``Overloaded`` (503, ``Retry-After``) past
    ``limit`` at once. Counted on the event loop's thread, so no lock is needed."""
    waiting: collections.Counter[str] = getattr(request.app.state, "webhook_calls", None) or (
        collections.Counter()
    )
    request.app.state.webhook_calls = waiting
    if waiting[workflow_id] >= limit:
        raise Overloaded(
            f"this workflow has {limit} webhook calls in flight already; retry shortly",
            retry_after_s=1.0,
        )
    waiting[workflow_id] += 1
    try:
        yield
    finally:
        waiting[workflow_id] -= 1
        if not waiting[workflow_id]:
            del waiting[workflow_id]


def _limiter(request: Request) -> anyio.CapacityLimiter:
    """The app's webhook limiter for the running event loop (a limiter belongs to one loop)."""
    loop = asyncio.get_running_loop()
    current: tuple[object, anyio.CapacityLimiter] | None = getattr(
        request.app.state, "webhook_limiter", None
    )
    if current is None or current[0] is not loop:
        current = (loop, anyio.CapacityLimiter(WEBHOOK_THREADS))
        request.app.state.webhook_limiter = current
    return current[1]


ROUTES = [
    ApiRoute(
        "/webhook/{workflow_id}/{path:path}",
        webhook,
        methods=METHODS,
        doc=Doc(
            "Deliver an event to a workflow's webhook; answers with the handler's result",
            body={},
            response={},
            auth=False,
            tag="webhooks",
        ),
    )
]
