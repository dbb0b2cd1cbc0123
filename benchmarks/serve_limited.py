"""The baseline endpoint served through floww's HTTP protocol (the one ``floww serve`` uses:
its connection limits, one send per response): the webhook bench's baseline, and priced
against ``serve_baseline`` (plain uvicorn) by the edge bench."""

from __future__ import annotations

import sys

import uvicorn

from benchmarks.serve_baseline import app
from floww.entrypoints.http.connection_limits import ConnectionLimits, limited_protocol

if __name__ == "__main__":
    port = int(sys.argv[1])
    print(f"http://127.0.0.1:{port}/hello/ada", flush=True)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        http=limited_protocol(ConnectionLimits()),
        proxy_headers=False,  # as `floww serve` and serve_floww run
    )
