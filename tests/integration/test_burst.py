"""Fair scheduling on a real ``floww serve``: 100 concurrent calls to a 25 s handler of one
workflow while another workflow's fast webhook keeps answering 200 within its deadline. The
slow workflow runs 8 at a time with 92 waiting places: all 100 are acknowledged (202 past the
2 s response deadline), the next calls are refused with 503 and ``Retry-After`` and leave no
execution behind, and no live execution is ever marked interrupted (leases last 3 s here, so
the sweep runs many times during the burst).

The figures (fast webhook latency during the burst, how many slow runs completed) are printed
with ``-s``; they are not asserted.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from floww.domain.model import ExecutionStatus
from tests.integration.lifecycle import (
    client_env,
    deploy,
    executions_of,
    make_project,
    server_env,
    sql_repo,
    webhook_url,
)
from tests.integration.serving import running_server

pytestmark = pytest.mark.integration

SLOW = """

import time as _time


@builtin.webhook("/slow", methods=["POST"])
def slow(ctx: Context, event: WebhookEvent) -> str:
    _time.sleep(25)
    return "done"
"""
BURST = 100
LANES = 8
WATCH_SECONDS = 28  # past the first batch's 25 s


def test_a_burst_of_slow_handlers_never_starves_another_workflow(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'home' / 'floww.db'}"
    env = server_env(
        database_url,
        concurrency_per_workflow=str(LANES),
        queue_per_workflow=str(BURST - LANES),
        workers_per_runtime=str(LANES),
    )
    with running_server(tmp_path / "home", env=env) as server:
        cli = client_env(server, tmp_path / "client")
        hello = deploy(cli, make_project(tmp_path, "hello", cli))
        slow = deploy(cli, make_project(tmp_path, "slow", cli, extra=SLOW))
        hello_url = webhook_url(hello, "/hello/").replace("{name}", "fast")
        slow_url = webhook_url(slow, "/slow")
        assert httpx.post(hello_url, json={}, timeout=30).status_code == 200  # warm

        with ThreadPoolExecutor(BURST) as pool:
            burst = list(pool.map(lambda _: httpx.post(slow_url, timeout=30), range(BURST)))
        assert [r.status_code for r in burst] == [202] * BURST
        accepted = {r.headers["x-floww-execution-id"] for r in burst}

        refused = [httpx.post(slow_url, timeout=10) for _ in range(5)]
        assert {r.status_code for r in refused} == {503}
        assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
        assert refused[0].json()["error"]["type"] == "Overloaded"

        latencies: list[float] = []
        statuses: list[int] = []
        until = time.monotonic() + WATCH_SECONDS
        while time.monotonic() < until:
            t0 = time.monotonic()
            answer = httpx.post(hello_url, json={}, timeout=30)
            latencies.append(time.monotonic() - t0)
            statuses.append(answer.status_code)
            time.sleep(0.2)

        with sql_repo(database_url) as repo:
            everything = executions_of(repo, slow["workflow"]["id"])
        # The project keeps examples/hello's five-minute cron: its tick is not part of the burst.
        webhook_trigger = {e.trigger_id for e in everything if e.id in accepted}
        assert len(webhook_trigger) == 1
        runs = [e for e in everything if e.trigger_id in webhook_trigger]
        counts = {s: sum(1 for e in runs if e.status is s) for s in ExecutionStatus}

    assert {e.id for e in runs} == accepted, "a refused call left an execution, or one is lost"
    assert counts[ExecutionStatus.INTERRUPTED] == 0
    assert counts[ExecutionStatus.FAILED] == counts[ExecutionStatus.TIMED_OUT] == 0
    assert counts[ExecutionStatus.COMPLETED] >= 1
    assert counts[ExecutionStatus.STARTED] <= LANES
    assert set(statuses) == {200}
    figures = (
        f"fast webhook during the burst: {len(latencies)} calls, all 200; "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms. "
        f"slow workflow after {WATCH_SECONDS} s: "
        + ", ".join(f"{s.value} {n}" for s, n in counts.items() if n)
    )
    print(f"\n[burst] {figures}")
