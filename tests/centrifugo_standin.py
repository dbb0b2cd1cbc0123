"""The embedded hub playing Centrifugo, served on loopback for tests
(``floww.bootstrap.centrifugo_standin_app``), and a permissive application backend for its
proxies when a test needs no floww server behind it.

What the stand-in does not cover is said in ``floww.entrypoints.http.centrifuge_edge`` (proxy
mode) and ``floww.entrypoints.http.centrifugo_api``: Centrifugo's own JWTs, connection and
subscription expiry and refresh, history and recovery, presence details, other transports,
clustering over Redis/NATS (one stand-in process is one Centrifugo node).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from floww.bootstrap import centrifugo_standin_app
from tests.integration.test_realtime_hub import serving

__all__ = ["PERMISSIVE_TOKEN", "Standin", "permissive_backend", "running_standin"]

PERMISSIVE_TOKEN = "contract-client"


@attrs.frozen
class Standin:
    api_url: str
    ws_url: str
    api_key: str


@contextlib.contextmanager
def running_standin(
    server_url: str, *, api_key: str = "standin-api-key", port: int = 0, rpc_proxy: bool = True
) -> Iterator[Standin]:
    """``rpc_proxy``: configured with floww's RPC proxy (without: RPCs get error 108)."""
    app = centrifugo_standin_app(
        api_key=api_key, server_url=server_url, ping_interval=1.0, rpc_proxy=rpc_proxy
    )
    with serving(app, port) as bound:
        base = f"127.0.0.1:{bound}"
        yield Standin(f"http://{base}", f"ws://{base}/connection/websocket", api_key)


@contextlib.contextmanager
def permissive_backend() -> Iterator[str]:
    """Connect and subscribe proxies that let in the one token ``PERMISSIVE_TOKEN`` (as user
    ``contract``) and allow it every channel; yields the backend's base URL."""

    async def connect(request: Request) -> JSONResponse:
        json.loads(await request.body())
        if request.headers.get("authorization") != f"Bearer {PERMISSIVE_TOKEN}":
            return JSONResponse({"disconnect": {"code": 4501, "reason": "unauthorized"}})
        return JSONResponse({"result": {"user": "contract"}})

    async def subscribe(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        allowed = body.get("user") == "contract"
        return JSONResponse({"result": {}} if allowed else {"error": {"code": 403}})

    app = Starlette(
        routes=[
            Route("/centrifugo/connect", connect, methods=["POST"]),
            Route("/centrifugo/subscribe", subscribe, methods=["POST"]),
        ]
    )
    with serving(app) as port:
        yield f"http://127.0.0.1:{port}"
