"""Webhook ingress: ``/webhook/{workflow_id}/{path}``, any method, handed to
``usecases.webhooks.handle_webhook`` with the raw body kept byte-exact.

The body is read chunk by chunk and refused with 413 past ``settings.max_body_bytes`` (or the
provider's own larger limit, where a webhook of that provider serves the path) before anything
is stored.
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
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.webhooks import (
    IncomingRequest,
    WebhookResponse,
    answer_after_lane_wait,
    body_limit_for,
    handle_webhook,
    runs_on_lane,
    submit_on_lane,
)
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
    workflow_id = request.path_params["workflow_id"]
    method = request.method.upper()
    path = "/" + request.path_params["path"]
    # Webhook callers may wait for handlers for up to the response deadline: they get threads of
    # their own, so the API (and the dev replies they wait for) never queues behind them; and
    # one workflow holds a bounded share of them, so its callers never starve another's. (A
    # call to the active deployment is handled on a lane of its workflow instead, with the
    # event loop waiting: no thread per caller.) The
    # share is taken before the body is read, and a body larger than the server's limit is read
    # only for a provider webhook that takes one (GitHub's 25 MB), found first.
    limiter = _limiter(request)
    with _workflow_share(request, workflow_id, deps.settings.webhook_calls_per_workflow):
        limit = deps.settings.max_body_bytes
        if path_body_limit(path, limit) > limit:
            limit = await anyio.to_thread.run_sync(
                body_limit_for, deps, workflow_id, method, path, limiter=limiter
            )
        body = await read_body(request, limit)
        incoming = IncomingRequest(
            workflow_id=workflow_id,
            method=method,
            path=path,
            headers=_headers(request),
            query=dict(request.query_params),
            body=body,
        )
        answer = None
        if runs_on_lane(deps, incoming):
            answer = await _on_lane(deps, incoming, limiter)
        if answer is None:
            answer = await anyio.to_thread.run_sync(handle_webhook, deps, incoming, limiter=limiter)
    return render(answer)


async def _on_lane(
    deps: ServerDeps, incoming: IncomingRequest, limiter: anyio.CapacityLimiter
) -> WebhookResponse | None:
    """A call to the active deployment, handled whole on a lane of its workflow while the
    event loop waits (no thread of its own); ``None`` when it is not one after all."""
    call = submit_on_lane(deps, incoming)
    # Woken by the lane's answer or by the deadline, whichever comes first (cheaper than
    # ``wrap_future`` and ``asyncio.wait``, which copy the outcome across and keep a waiter).
    loop = asyncio.get_running_loop()
    woken = loop.create_future()

    def answered(_done: object) -> None:  # on the lane's thread
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_wake, woken)

    call.future.add_done_callback(answered)
    timer = loop.call_later(deps.settings.response_deadline_s, _wake, woken)
    try:
        await woken
    finally:
        timer.cancel()
    if call.future.done() and not call.future.cancelled():
        return call.future.result()
    return await anyio.to_thread.run_sync(
        answer_after_lane_wait, deps, incoming, call, limiter=limiter
    )


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


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
