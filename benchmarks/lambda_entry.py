"""The Lambda entry's cost of fetching code by digest: a cold container's first invocation
(fetch from a loopback platform, load, run) against a warm one's (digest only, code kept),
with the warm in-process runtime handed the files as the baseline (what every invocation
would cost if the code travelled inside it, minus the transfer)."""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from floww.sdk.bundle import bundle_from_directory
from floww.sdk.lambda_entry import LambdaEntry
from floww.sdk.runtime import Runtime
from floww.sdk.wire import code_to_wire

ROUNDS = int(os.environ.get("BENCH_LAMBDA_ROUNDS", "200"))
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hello"


def _serve(bundle: dict[str, Any]) -> ThreadingHTTPServer:
    body = json.dumps(bundle).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _request(code: dict[str, Any], api_url: str) -> dict[str, Any]:
    return {
        "type": "invoke_trigger",
        "code": code,
        "trigger": {
            "provider": {"type": "builtin", "alias": "default"},
            "trigger_type": "webhook",
            "input": {"path": "/hello/{name}", "methods": ["POST"]},
        },
        "event": {
            "method": "POST",
            "path": "/hello/ada",
            "headers": {},
            "query": {},
            "body": {},
            "raw_body_b64": "",
            "path_params": {"name": "ada"},
        },
        "providers": {},
        "execution": {
            "id": "exe",
            "token": "t",
            "api_url": api_url,
            "deadline_ms": 10_000,
            "workflow_id": "wf",
        },
    }


def _median_ms(run: Callable[[], Any]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        answer = run()
        times.append((time.perf_counter() - started) * 1000)
        assert answer["ok"], answer
    return statistics.median(times)


def run() -> list[str]:
    code = bundle_from_directory(EXAMPLE, "main.py")
    server = _serve(code_to_wire(code))
    api_url = f"http://127.0.0.1:{server.server_address[1]}"
    by_digest = _request(code_to_wire(code, include_files=False), api_url)
    with_files = _request(code_to_wire(code), api_url)
    try:
        warm_entry = LambdaEntry()
        warm_entry.handle(by_digest)
        baseline_runtime = Runtime()
        baseline_runtime.handle(with_files)
        baseline = _median_ms(lambda: baseline_runtime.handle(with_files))
        warm = _median_ms(lambda: warm_entry.handle(by_digest))
        cold = _median_ms(lambda: LambdaEntry().handle(by_digest))
    finally:
        server.shutdown()
        server.server_close()
    return [
        f"Lambda entry, examples/hello webhook, median of {ROUNDS} in-process invocations",
        f"{'warm runtime, files inline (baseline)':<40} {baseline:>8.3f} ms",
        f"{'warm entry, digest only':<40} {warm:>8.3f} ms   x{warm / baseline:.2f}",
        f"{'cold entry: fetch + load + run':<40} {cold:>8.3f} ms   x{cold / baseline:.2f}",
    ]


if __name__ == "__main__":
    for line in run():
        print(line)
