"""``/metrics``: the Prometheus text exposition, and the count of webhook answers by status.

The route serves whatever ``render`` returns. ``FLOWW_METRICS`` decides who may read it:
``open`` (anyone who reaches the server) or ``token`` (a ``Authorization: Bearer <token>``
header carrying ``FLOWW_METRICS_TOKEN``, compared in constant time); with ``off`` the
composition root mounts no route and ``/metrics`` answers 404.

``WebhookAnswers`` is a pure ASGI middleware: it reads the status line of responses to
``/webhook/...`` requests and nothing else, so it adds no work to other routes.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["WebhookAnswers", "metrics_route"]

_WEBHOOK_PREFIX = "/webhook/"


def metrics_route(render: Callable[[], bytes], content_type: str, token: str = "") -> Route:
    """``GET /metrics``; when ``token`` is not empty a request must carry it as a bearer
    token (401 otherwise, with a reason)."""
    expected = f"Bearer {token}".encode()

    async def scrape(request: Request) -> Response:
        if token:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return JSONResponse(
                    {
                        "error": {
                            "type": "Unauthenticated",
                            "message": "send the metrics token as 'Authorization: Bearer "
                            "<FLOWW_METRICS_TOKEN>'",
                        }
                    },
                    401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        body = await run_in_threadpool(render)
        return Response(body, 200, media_type=content_type, headers={"Cache-Control": "no-store"})

    return Route("/metrics", scrape, methods=["GET"])


class WebhookAnswers:
    """Calls ``count(status)`` once for each response to a ``/webhook/...`` request."""

    def __init__(self, app: ASGIApp, count: Callable[[int], None]) -> None:
        self.app = app
        self._count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_WEBHOOK_PREFIX):
            await self.app(scope, receive, send)
            return

        async def send_counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._count(int(message["status"]))
            await send(message)

        await self.app(scope, receive, send_counting)
