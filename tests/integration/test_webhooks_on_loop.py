"""Calls to an active deployment run on the event loop of a real ``floww serve`` (SQLite or
PostgreSQL, whose writes the loop makes itself; the local function host): no more of a
workflow's runs at once than its lanes, whatever waits for a lane recorded nothing until it
runs (or its caller's deadline passes), a handler past its deadline is TIMED_OUT and its
worker replaced, and one cancelled while it runs ends CANCELLED or FAILED without the server
stalling."""

from __future__ import annotations

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

TIMED = """

import time as _time


@builtin.webhook("/timed", methods=["POST"])
def timed(ctx: Context, event: WebhookEvent) -> dict:
    started = _time.time()
    _time.sleep(float(event.query.get("s", "0.4")))
    return {"started": started, "ended": _time.time()}
"""
LANES = 2


def test_runs_on_the_loop_keep_the_lanes_limit_and_the_deadlines(
    tmp_path: Path, database_url: str
) -> None:
    env = server_env(
        database_url,
        concurrency_per_workflow=str(LANES),
        workers_per_runtime=str(LANES),
        execution_timeout_s="3",
        response_deadline_s="20",
        metrics="open",
    )
    with running_server(tmp_path / "home", env=env) as server:
        cli = client_env(server, tmp_path / "client")
        flow = deploy(cli, make_project(tmp_path, "timed", cli, extra=TIMED))
        url = webhook_url(flow, "/timed")
        assert httpx.post(url, timeout=30).status_code == 200  # warm: workers and tables

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: httpx.post(url, timeout=30), range(8)))
        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
        spans = sorted((a.json()["started"], a.json()["ended"]) for a in answers)
        most = max(sum(1 for s, e in spans if s <= at < e) for at, _ in spans)
        assert most <= LANES, spans  # never more runs at once than lanes
        assert most == LANES  # and the lanes were used
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        threads = [line for line in metrics.splitlines() if line.startswith("floww_dispatcher_th")]
        # At most the thread of the first call (routed before its table was in memory): the
        # eight ran on the loop, where two lanes' threads would have served them otherwise.
        assert float(threads[0].split()[1]) < LANES, threads

        late = httpx.post(f"{url}?s=10", timeout=30)  # past the 3 s execution deadline
        assert late.status_code == 504, late.text
        assert late.json()["error"]["type"] == "DeadlineExceeded"
        after = httpx.post(url, timeout=30)  # its worker was replaced: the next call runs
        assert after.status_code == 200, after.text

        with sql_repo(database_url) as repo:
            runs = {e.id: e for e in executions_of(repo, flow["workflow"]["id"])}
        assert runs[late.headers["x-floww-execution-id"]].status is ExecutionStatus.TIMED_OUT
        for answer in [*answers, after]:
            assert runs[answer.headers["x-floww-execution-id"]].status is ExecutionStatus.COMPLETED


def test_calls_waiting_on_the_loop_past_their_deadline_are_recorded_queued(
    tmp_path: Path, database_url: str
) -> None:
    """One lane, a 1 s response deadline: the call waiting behind a 3 s run is answered 202
    queued when its deadline passes, then run; the running one is answered 202 started."""
    env = server_env(
        database_url,
        concurrency_per_workflow="1",
        workers_per_runtime="1",
        response_deadline_s="1",
    )
    with running_server(tmp_path / "home", env=env) as server:
        cli = client_env(server, tmp_path / "client")
        flow = deploy(cli, make_project(tmp_path, "timed", cli, extra=TIMED))
        url = webhook_url(flow, "/timed")
        assert httpx.post(f"{url}?s=0", timeout=30).status_code == 200
        with ThreadPoolExecutor(2) as pool:
            running = pool.submit(httpx.post, f"{url}?s=3", timeout=30)
            time.sleep(0.3)
            waiting = pool.submit(httpx.post, f"{url}?s=0", timeout=30)
            first, second = running.result(), waiting.result()
        assert (first.status_code, first.json()["status"]) == (202, "started"), first.text
        assert (second.status_code, second.json()["status"]) == (202, "queued"), second.text
        ids = [first.json()["execution_id"], second.json()["execution_id"]]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with sql_repo(database_url) as repo:
                states = [repo.get_execution(i).status for i in ids]
            if states == [ExecutionStatus.COMPLETED] * 2:
                break
            time.sleep(0.2)
        assert states == [ExecutionStatus.COMPLETED] * 2
