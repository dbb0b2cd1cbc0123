"""The cost of the workers' sandbox: a warm invocation and a cold worker start (process start,
readiness ping, code load and one invocation), on the local function host without and with the
bubblewrap sandbox (its own network, the uplink relay starting each worker), in one run.
Without bubblewrap only the unsandboxed figures print."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import floww
from floww.adapters.local.function_host import LocalFunctionHost
from floww.adapters.local.sandbox import BwrapSandbox, probe_bwrap
from floww.adapters.local.uplink import SandboxNetwork
from floww.adapters.memory import FakeImageBuilder, InMemoryImageRegistry
from floww.domain.model import (
    CodeBundle,
    ExecutionContext,
    Invocation,
    ProviderRef,
    Runtime,
    RuntimeTarget,
    TriggerSpec,
)

__all__ = ["run"]

WARM_CALLS = 300
COLD_STARTS = 8
FLOWW_SOURCE = str(Path(floww.__file__).resolve().parents[1])
MAIN = """
from floww import Builtin

builtin = Builtin()

@builtin.webhook("/ping")
def ping(ctx, event):
    return {"pong": True}
"""


def _invocation() -> Invocation:
    spec = TriggerSpec(ProviderRef("builtin"), "webhook", {"path": "/ping", "methods": ["POST"]})
    event = {"method": "POST", "path": "/ping", "headers": {}, "query": {}, "body": {}}
    return Invocation(
        code=CodeBundle("main.py", {"main.py": MAIN}),
        trigger=spec,
        event=event,
        providers={},
        execution=ExecutionContext("ex_1", "token", "http://127.0.0.1:9", 30_000, "wf_1"),
    )


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _measure(sandbox: BwrapSandbox | None, cache: Path) -> tuple[list[float], list[float]]:
    """Cold starts and warm invocations, in milliseconds."""
    registry = InMemoryImageRegistry()
    built = FakeImageBuilder().build(RuntimeTarget("linux/amd64", "3.11"), [])
    registry.push("img", "tag", built.image)
    runtime = Runtime("rt_bench", "ns_bench", "spec", "img:tag")
    invocation = _invocation()
    # The sandbox's network as a server has it (its API address leads nowhere here).
    network = None if sandbox is None else SandboxNetwork(("127.0.0.1", 9))
    with LocalFunctionHost(
        registry,
        cache,
        workers_per_runtime=1,
        fallback_path=[FLOWW_SOURCE],
        sandbox=sandbox,
        network=network,
    ) as host:
        host.create_runtime(runtime)  # unpacking (and staging) once, as a server does
        cold = []
        for _ in range(COLD_STARTS):
            host.destroy_runtime(runtime)  # the next call starts a worker
            cold.append(_timed(lambda: host.invoke(runtime, invocation)))
        warm = [_timed(lambda: host.invoke(runtime, invocation)) for _ in range(WARM_CALLS)]
    return cold, warm


def _p(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100)[pct - 1]


def run() -> list[str]:
    lines = [
        f"local worker sandbox cost ({COLD_STARTS} cold starts, {WARM_CALLS} warm invocations "
        "each, one worker)"
    ]
    figures: dict[str, tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="floww-bench-") as scratch:
        figures["unsandboxed"] = _measure(None, Path(scratch) / "plain")
        sandbox = BwrapSandbox.for_python(
            sys.executable, import_path=[FLOWW_SOURCE], hidden=[Path(scratch)]
        )
        problem = probe_bwrap(sandbox)
        if problem is None:
            figures["bubblewrap sandbox"] = _measure(sandbox, Path(scratch) / "sandboxed")
        else:
            lines.append(f"  (no sandboxed figures: {problem})")
    for name, (cold, warm) in figures.items():
        lines.append(
            f"  {name:<20} cold start p50 {statistics.median(cold):>7.1f} ms   "
            f"warm invocation p50 {statistics.median(warm):>6.2f} ms   p99 {_p(warm, 99):>6.2f} ms"
        )
    if len(figures) == 2:
        (cold0, warm0), (cold1, warm1) = figures.values()
        lines.append(
            f"  {'ratio sandboxed / unsandboxed':<20} cold start "
            f"x{statistics.median(cold1) / statistics.median(cold0):.2f}   "
            f"warm invocation p50 x{statistics.median(warm1) / statistics.median(warm0):.2f}   "
            f"p99 x{_p(warm1, 99) / _p(warm0, 99):.2f}"
        )
    return lines


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
