"""A small closed-loop HTTP load generator: ``concurrency`` clients each send requests back to
back until ``total`` are done; latencies and throughput are reported, and answers other than
the expected status or requests that failed in transport are counted as errors."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping

import attrs
import httpx

__all__ = ["LoadResult", "run_load"]


@attrs.frozen
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: tuple[float, ...]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[index]

    @property
    def median(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


async def _load(
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    total: int,
    concurrency: int,
    expect: int,
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    remaining = total
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                try:
                    response = await client.request(
                        method, url, content=body, headers=dict(headers)
                    )
                except httpx.TransportError:  # counted, not fatal: the figures say how many
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                if response.status_code != expect:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), errors, elapsed, tuple(latencies))


def run_load(
    url: str,
    *,
    method: str = "POST",
    body: bytes = b"{}",
    headers: Mapping[str, str] | None = None,
    total: int = 2000,
    concurrency: int = 16,
    expect: int = 200,
) -> LoadResult:
    hdrs = {"content-type": "application/json", **(headers or {})}
    return asyncio.run(_load(method, url, body, hdrs, total, concurrency, expect))


@attrs.frozen
class WrkResult:
    """What ``wrk --latency`` reports: throughput, latency percentiles, failed responses."""

    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int

    def percentile(self, p: float) -> float:
        return {50: self.p50_ms, 99: self.p99_ms}[int(p)]


_WRK_SCRIPT = (
    'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'
)


def _wrk_ms(text: str) -> float:
    value, unit = float(text[:-2] if text.endswith(("ms", "us")) else text[:-1]), text
    if unit.endswith("us"):
        return value / 1000
    if unit.endswith("ms"):
        return value
    return value * 1000  # seconds


def run_wrk(url: str, *, seconds: int = 10, connections: int = 16, threads: int = 1) -> WrkResult:
    """Drive ``url`` with Debian's ``wrk`` (a C load generator: it measures the server, not
    the client). Raises ``FileNotFoundError`` when wrk is not installed."""
    import re
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT)
        script.flush()
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _wrk_ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", out)
    return WrkResult(
        rps, p50, p99, (int(bad.group(1)) if bad else 0) + (int(errors.group(1)) if errors else 0)
    )
