"""What ``/metrics`` costs: deployed-webhook throughput with ``FLOWW_METRICS=open`` against the
same server with metrics off, measured in the same run, and the time of one scrape."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from benchmarks.load import LoadResult, run_load

__all__ = ["run"]

TOTAL = int(os.environ.get("BENCH_REQUESTS", "3000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _floww(metrics: str) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "FLOWW_METRICS": metrics}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.serve_floww", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        if not first:
            raise RuntimeError("benchmarks.serve_floww did not start")
        url = str(json.loads(first)["url"])  # it prints its URLs as one JSON line
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/config", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _measure(url: str) -> LoadResult:
    run_load(url, total=200, concurrency=CONCURRENCY)  # warm-up: workers, connections
    return run_load(url, total=TOTAL, concurrency=CONCURRENCY)


def _line(name: str, result: LoadResult) -> str:
    return (
        f"{name:<34} {result.throughput:>9.0f} req/s   p50 {result.percentile(50):>7.2f} ms"
        f"   p99 {result.percentile(99):>7.2f} ms   errors {result.errors}"
    )


def run() -> list[str]:
    with _floww("off") as url:
        off = _measure(url)
    with _floww("open") as url:
        on = _measure(url)
        scrape_url = url.split("/webhook/", 1)[0] + "/metrics"
        started = time.perf_counter()
        for _ in range(50):
            httpx.get(scrape_url, timeout=10).raise_for_status()
        scrape_ms = (time.perf_counter() - started) * 1000 / 50
    return [
        f"/metrics overhead on the deployed webhook ({TOTAL} requests, {CONCURRENCY} concurrent)",
        _line("floww webhook, metrics off", off),
        _line("floww webhook, metrics open", on),
        f"{'ratio on / off':<34} throughput x{on.throughput / off.throughput:.3f}"
        f"   p50 x{on.percentile(50) / off.percentile(50):.2f}"
        f"   p99 x{on.percentile(99) / off.percentile(99):.2f}",
        f"{'one /metrics scrape':<34} {scrape_ms:>9.2f} ms (mean of 50)",
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
