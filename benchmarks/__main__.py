"""``make bench``: deployed-webhook throughput and latency against a bare Starlette endpoint
under the same uvicorn settings, plus the ``floww dev`` figures when available."""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.load import LoadResult, WrkResult, run_load, run_wrk

TOTAL = int(os.environ.get("BENCH_REQUESTS", "3000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(module: str) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url:
            raise RuntimeError(f"{module} did not start")
        import time

        import httpx

        for _ in range(200):
            try:
                httpx.get(url.rsplit("/", 2)[0] + "/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
USE_WRK = shutil.which("wrk") is not None


def _measure(url: str) -> LoadResult | WrkResult:
    run_load(url, total=200, concurrency=CONCURRENCY)  # warm-up: workers, connections
    if USE_WRK:
        return run_wrk(url, seconds=SECONDS, connections=CONCURRENCY)
    return run_load(url, total=TOTAL, concurrency=CONCURRENCY)


def _line(name: str, result: LoadResult | WrkResult) -> str:
    return (
        f"{name:<34} {result.throughput:>9.0f} req/s   p50 {result.percentile(50):>7.2f} ms"
        f"   p99 {result.percentile(99):>7.2f} ms   errors {result.errors}"
    )


def webhook_bench() -> list[str]:
    with _serve("benchmarks.serve_baseline") as url:
        baseline = _measure(url)
    with _serve("benchmarks.serve_floww") as url:
        floww = _measure(url)
    load = (
        f"wrk, {SECONDS} s, {CONCURRENCY} connections"
        if USE_WRK
        else f"{TOTAL} requests from a Python client (install wrk for better figures), "
        f"{CONCURRENCY} concurrent"
    )
    return [
        f"deployed webhook vs bare Starlette ({load}; one uvicorn process each, "
        "log level warning, no access log)",
        _line("bare Starlette JSON endpoint", baseline),
        _line("floww webhook -> local worker", floww),
        f"{'ratio floww / baseline':<34} throughput x{floww.throughput / baseline.throughput:.3f}"
        f"   p50 x{floww.percentile(50) / baseline.percentile(50):.1f}"
        f"   p99 x{floww.percentile(99) / baseline.percentile(99):.1f}",
    ]


def main() -> None:
    for line in webhook_bench():
        print(line, flush=True)
    print(flush=True)
    for line in importlib.import_module("benchmarks.identity").run():
        print(line, flush=True)
    print(flush=True)
    edge = importlib.import_module("benchmarks.edge")
    for line in [*edge.run(), *edge.overhead()]:
        print(line, flush=True)
    print(flush=True)
    for line in importlib.import_module("benchmarks.registry_proxy").run():
        print(line, flush=True)
    for line in importlib.import_module("benchmarks.lambda_entry").run():
        print(line, flush=True)
    print(flush=True)
    for line in importlib.import_module("benchmarks.sandbox").run():
        print(line, flush=True)
    print(flush=True)
    for line in importlib.import_module("benchmarks.metrics").run():
        print(line, flush=True)
    print(flush=True)
    for line in importlib.import_module("benchmarks.auth").run():
        print(line, flush=True)
    try:
        dev = importlib.import_module("benchmarks.dev")
    except ModuleNotFoundError:
        return
    print(flush=True)
    for line in dev.run():
        print(line, flush=True)
    print(flush=True)
    for line in importlib.import_module("benchmarks.replicas").run():
        print(line, flush=True)
    print(flush=True)
    for line in importlib.import_module("benchmarks.centrifugo").run():
        print(line, flush=True)


if __name__ == "__main__":
    main()
