"""``floww dev`` figures for ``make bench``, against a real ``floww serve`` and a real
``floww dev`` subprocess in a copy of examples/hello:

- save-to-reloaded: from writing ``main.py`` to the session answering with the new code
  (observed through the local webhook server), median of ``DEV_EDITS`` edits; baseline: loading
  the same code in process (what a reload must do at least).
- webhook round trip through the hub: server webhook -> realtime -> dev session -> reply ->
  caller, sequential, p50/p99 of ``DEV_REQUESTS``; also the same handler through the local
  webhook server; baseline: a bare Starlette endpoint on loopback under uvicorn.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx
from tests.integration.serving import approve_device_login, free_port, running_server
from tests.integration.test_dev_session import EXAMPLE, start_dev

from floww.adapters.inprocess import InProcessRunner
from floww.entrypoints.cli.store import ClientStore, StoredCredentials
from floww.sdk.bundle import bundle_from_directory

__all__ = ["run"]

EDITS = int(os.environ.get("DEV_EDITS", "10"))
REQUESTS = int(os.environ.get("DEV_REQUESTS", "200"))


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def _timed(call: Callable[[], object], count: int) -> list[float]:
    call()  # warm-up: connections, caches
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


@contextmanager
def _baseline_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.serve_baseline", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        for _ in range(200):
            try:
                httpx.post(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _post(http: httpx.Client, url: str, expect: dict[str, str]) -> Callable[[], None]:
    def call() -> None:
        answer = http.post(url, json={})
        if answer.status_code != 200 or answer.json() != expect:
            raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text}")

    return call


def _reload_times(project: Path, local_url: str, http: httpx.Client) -> list[float]:
    main = project / "main.py"
    original = main.read_text()
    times = []
    for edit in range(EDITS):
        main.write_text(original.replace('f"hi {', f'f"v{edit} {{'))
        started = time.perf_counter()
        deadline = started + 30
        while http.post(local_url, json={}).json() != {"message": f"v{edit} ada"}:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"edit {edit} was not served within 30 s")
            time.sleep(0.002)
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.3)  # let the watcher settle before the next edit
    main.write_text(original)
    return times


def _load_times(project: Path) -> list[float]:
    """Each load gets new code (an edited comment): the runtime caches code by digest."""
    runner = InProcessRunner()
    code = bundle_from_directory(project, "main.py")
    edits = iter(range(EDITS + 1))

    def load() -> None:
        text = code.files["main.py"] + f"\n# edit {next(edits)}\n"
        runner.load(attrs.evolve(code, files={**code.files, "main.py": text}), {})

    return _timed(load, EDITS)


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="floww-bench-dev-") as tmp:
        root = Path(tmp)
        with running_server(root / "home") as server:
            config_home = root / "xdg-config"
            store = ClientStore(config_home / "floww")
            store.save_credentials(server.url, StoredCredentials(approve_device_login(server)))
            store.set_current_server(server.url)
            project = root / "project" / "hello"
            shutil.copytree(EXAMPLE, project)
            (project / "floww.toml").write_text('[workflow]\nname = "bench-dev"\n')
            dev = start_dev(project, config_home)
            try:
                hub_url = f"{server.url}/webhook/{dev.workflow_id()}/hello/ada"
                local_url = f"http://127.0.0.1:{dev.local_port}/hello/ada"
                with httpx.Client(timeout=30) as http:
                    reloads = _reload_times(project, local_url, http)
                    time.sleep(0.5)
                    hi = {"message": "hi ada"}
                    hub = _timed(_post(http, hub_url, hi), REQUESTS)
                    local = _timed(_post(http, local_url, hi), REQUESTS)
                    with _baseline_server() as bare_url:
                        bare = _timed(_post(http, bare_url, hi), REQUESTS)
            finally:
                dev.stop()
            loads = _load_times(project)

    reload_median, load_median = statistics.median(reloads), statistics.median(loads)
    p50, p99 = _percentile(hub, 50), _percentile(hub, 99)
    b50, b99 = _percentile(bare, 50), _percentile(bare, 99)
    return [
        f"floww dev ({EDITS} edits; {REQUESTS} sequential requests each way)",
        f"{'save -> reloaded (median)':<40} {reload_median:>8.1f} ms"
        f"   min {min(reloads):.1f}   max {max(reloads):.1f}",
        f"{'  baseline: in-process load (median)':<40} {load_median:>8.1f} ms"
        f"   ratio x{reload_median / load_median:.1f}",
        f"{'webhook -> hub -> dev -> reply':<40} p50 {p50:>7.2f} ms   p99 {p99:>7.2f} ms",
        f"{'local webhook server -> dev':<40} p50 {_percentile(local, 50):>7.2f} ms"
        f"   p99 {_percentile(local, 99):>7.2f} ms",
        f"{'  baseline: bare Starlette on loopback':<40} p50 {b50:>7.2f} ms   p99 {b99:>7.2f} ms",
        f"{'  ratio hub round trip / baseline':<40} p50 x{p50 / b50:.1f}      p99 x{p99 / b99:.1f}",
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
