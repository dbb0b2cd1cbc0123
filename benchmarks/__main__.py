"""``make bench``: deployed-webhook throughput and latency against a bare Starlette endpoint
under the same uvicorn settings, plus the ``floww dev`` figures when available."""

from __future__ import annotations

import importlib
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import attrs

from benchmarks.load import LoadResult, WrkResult, run_load, run_wrk

TOTAL = int(os.environ.get("BENCH_REQUESTS", "3000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(module: str, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A server module started on a free port (``env`` added to the environment); yields the
    first line it prints."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, str(port), *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        if not first:
            raise RuntimeError(f"{module} did not start")
        import time

        import httpx

        base = f"http://127.0.0.1:{port}/"
        for _ in range(200):
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield first
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def _floww(*args: str, env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """``benchmarks.serve_floww`` with ``args``; yields what it printed (URLs, deploy times)."""
    with _serve("benchmarks.serve_floww", *args, env=env) as line:
        yield json.loads(line)


SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
USE_WRK = shutil.which("wrk") is not None
SCALING = os.environ.get("BENCH_SCALING", "10,1000,10000")
SCALING_SECONDS = int(os.environ.get("BENCH_SCALING_SECONDS", "3"))
SCALING_ROUNDS = int(os.environ.get("BENCH_SCALING_ROUNDS", "4"))
# PostgreSQL against SQLite: two servers within a few percent of each other, on a host whose
# speed moves by a fifth between windows; more rounds narrow the median of their ratios.
PAIRED_ROUNDS = int(os.environ.get("BENCH_PAIRED_ROUNDS", "10"))


@attrs.frozen
class _Median:
    """The median throughput and p99 of several windows of one URL."""

    results: tuple[LoadResult | WrkResult, ...]

    @property
    def throughput(self) -> float:
        return statistics.median(r.throughput for r in self.results)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.results)

    def percentile(self, p: float) -> float:
        return statistics.median(r.percentile(p) for r in self.results)


def _paired_ratio(name: str, result: _Median, base: _Median) -> str:
    """``_ratio`` of two URLs measured in the same rounds: the median of each round's ratio
    (windows next to each other in time, so the machine's drift mostly cancels)."""

    def median_ratio(measure: Callable[[LoadResult | WrkResult], float]) -> float:
        return statistics.median(
            measure(r) / measure(b) if measure(b) else math.nan  # a window with no answer
            for r, b in zip(result.results, base.results, strict=True)
        )

    return (
        f"{'  ratio ' + name:<34} throughput x{median_ratio(lambda r: r.throughput):.3f}"
        f"   p50 x{median_ratio(lambda r: r.percentile(50)):.2f}"
        f"   p99 x{median_ratio(lambda r: r.percentile(99)):.2f}   (median of the rounds' ratios)"
    )


def _interleaved(urls: dict[Any, str], rounds: int = SCALING_ROUNDS) -> dict[Any, _Median]:
    """Each URL measured in ``rounds`` windows taken in turn (URL after URL, round after
    round, each round starting one URL further on), so a change in the machine's speed during
    the run falls on every URL alike rather than on the ones measured last, and no URL is
    always measured first."""
    for url in urls.values():
        run_load(url, total=200, concurrency=CONCURRENCY)  # warm-up: workers, tables
    windows: dict[Any, list[LoadResult | WrkResult]] = {key: [] for key in urls}
    keys = list(urls)
    for round_ in range(rounds):
        for key in keys[round_ % len(keys) :] + keys[: round_ % len(keys)]:
            url = urls[key]
            if USE_WRK:
                windows[key].append(run_wrk(url, seconds=SCALING_SECONDS, connections=CONCURRENCY))
            else:
                windows[key].append(run_load(url, total=TOTAL // 4, concurrency=CONCURRENCY))
    return {key: _Median(tuple(found)) for key, found in windows.items()}


def _measure(url: str, seconds: int = SECONDS) -> LoadResult | WrkResult:
    run_load(url, total=200, concurrency=CONCURRENCY)  # warm-up: workers, connections
    if USE_WRK:
        return run_wrk(url, seconds=seconds, connections=CONCURRENCY)
    return run_load(url, total=TOTAL, concurrency=CONCURRENCY)


def _line(name: str, result: LoadResult | WrkResult | _Median) -> str:
    return (
        f"{name:<34} {result.throughput:>9.0f} req/s   p50 {result.percentile(50):>7.2f} ms"
        f"   p99 {result.percentile(99):>7.2f} ms   errors {result.errors}"
    )


def _ratio(
    name: str, result: LoadResult | WrkResult | _Median, base: LoadResult | WrkResult | _Median
) -> str:
    return (
        f"{'  ratio ' + name:<34} throughput x{result.throughput / base.throughput:.3f}"
        f"   p50 x{result.percentile(50) / base.percentile(50):.2f}"
        f"   p99 x{result.percentile(99) / base.percentile(99):.2f}"
    )


def webhook_bench() -> tuple[list[str], float]:
    """The deployed JSON webhook on SQLite against bare Starlette, then one webhook among 10 /
    1,000 / 10,000 of its workflow (static and templated paths), with the deploy times; and
    the SQLite throughput (PostgreSQL's baseline)."""
    with _serve("benchmarks.serve_limited") as url:  # the protocol `floww serve` runs
        baseline = _measure(url)
    scaling = [int(n) for n in SCALING.split(",") if n]
    with _floww("--scaling", ",".join(map(str, scaling))) as served:
        floww = _measure(served["url"])
        by_size = _interleaved(
            {(kind, n): served[f"{kind}-{n}"] for kind in ("static", "templated") for n in scaling}
        )
    load = (
        f"wrk, {SECONDS} s, {CONCURRENCY} connections"
        if USE_WRK
        else f"{TOTAL} requests from a Python client (install wrk for better figures), "
        f"{CONCURRENCY} concurrent"
    )
    lines = [
        f"deployed webhook vs bare Starlette ({load}; one uvicorn process each, "
        "log level warning, no access log)",
        _line("bare Starlette JSON endpoint", baseline),
        _line("floww webhook -> local worker", floww),
        _ratio("floww / baseline", floww, baseline),
        "",
        f"one webhook among N in its workflow (SQLite; {SCALING_ROUNDS} rounds of"
        f" {SCALING_SECONDS} s windows, the sizes in turn; medians of the rounds)",
    ]
    for kind in ("static", "templated"):
        first = by_size[(kind, scaling[0])]
        for n in scaling:
            result = by_size[(kind, n)]
            lines.append(_line(f"{n} {kind} webhooks", result))
            if n != scaling[0]:
                lines.append(_paired_ratio(f"{n} / {scaling[0]}", result, first))
    lines.append("")
    for kind in ("static", "templated"):
        for n in scaling:
            lines.append(
                f"{'deploy of ' + str(n) + ' ' + kind + ' webhooks':<34}"
                f" {served[f'deploy-{kind}-{n}']:>9.2f} s (HTTP deploy API, code loaded by the"
                " runtime)"
            )
    return lines, floww.throughput


def postgres_bench(sqlite: float | None = None) -> list[str]:
    """The same webhook on PostgreSQL: one server process; the same against a server on
    SQLite in turns (windows next to each other, so the machine's drift weighs on both
    alike); then two processes on one database, loaded together (half the connections
    each)."""
    try:
        from tests.integration.postgres import fresh_database
    except ImportError:  # pragma: no cover - the tests package is part of the checkout
        return []
    with ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_database())
        except BaseException as error:  # no server: say so and go on
            return [f"PostgreSQL figures skipped: {error}"]
        dsn = url.render_as_string(hide_password=False)
        with _floww("--database-url", dsn) as a:
            one = _measure(a["url"])
            with _floww() as on_sqlite:  # the same webhook on SQLite, measured in turns
                paired = _interleaved(
                    {"postgresql": a["url"], "sqlite": on_sqlite["url"]}, PAIRED_ROUNDS
                )
            with _serve(
                "benchmarks.serve_floww", "--database-url", dsn, "--attach", a["home"]
            ) as b:
                other = json.loads(b)["base"]
                both = _measure_together(
                    [a["url"], a["url"].replace(a["base"], other)], CONCURRENCY // 2
                )
    with fresh_database() as url:
        # The execution writes without waiting for the WAL flush (docs/performance.md).
        dsn = url.render_as_string(hide_password=False)
        with _floww("--database-url", dsn, env={"FLOWW_PG_SYNCHRONOUS_COMMIT": "off"}) as c:
            unflushed = _measure(c["url"])
    together = sum(r.throughput for r in both)
    lines = [
        f"PostgreSQL ({SECONDS} s each; two processes: {CONCURRENCY // 2} connections to each)",
        _line("one server process", one),
        _line("  same, synchronous_commit off", unflushed),
        f"{'two server processes, together':<34} {together:>9.0f} req/s   "
        + "   ".join(f"p99 {r.percentile(99):.2f} ms" for r in both),
        f"{'  ratio two / one process':<34} throughput x{together / one.throughput:.2f}",
    ]
    if sqlite:
        lines.append(
            f"{'  ratio PostgreSQL / SQLite':<34} throughput x{one.throughput / sqlite:.2f}"
            "   (windows minutes apart)"
        )
    lines += [
        f"same webhook, PostgreSQL and SQLite in turns ({PAIRED_ROUNDS} rounds of"
        f" {SCALING_SECONDS} s windows each; medians)",
        _line("  one process on PostgreSQL", paired["postgresql"]),
        _line("  one process on SQLite", paired["sqlite"]),
        _paired_ratio("PostgreSQL / SQLite", paired["postgresql"], paired["sqlite"]),
    ]
    return lines


def _measure_together(urls: list[str], connections: int) -> list[LoadResult | WrkResult]:
    import threading

    for url in urls:
        run_load(url, total=200, concurrency=connections)
    results: list[LoadResult | WrkResult | None] = [None] * len(urls)

    def one(i: int) -> None:
        if USE_WRK:
            results[i] = run_wrk(urls[i], seconds=SECONDS, connections=connections)
        else:
            results[i] = run_load(urls[i], total=TOTAL // len(urls), concurrency=connections)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def main() -> None:
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()}", flush=True)
    lines, sqlite = webhook_bench()
    for line in lines:
        print(line, flush=True)
    print(flush=True)
    for line in postgres_bench(sqlite):
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
