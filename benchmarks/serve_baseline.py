"""A bare Starlette JSON endpoint with the same shape as the deployed webhook, served by uvicorn
with the same settings as the floww server under test: the baseline."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"message": f"hi {request.path_params['name']}"})


app = Starlette(routes=[Route("/hello/{name}", hello, methods=["POST"])])

if __name__ == "__main__":
    port = int(sys.argv[1])
    print(f"http://127.0.0.1:{port}/hello/ada", flush=True)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # as `floww serve` runs
    )
