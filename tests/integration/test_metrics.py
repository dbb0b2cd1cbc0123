"""``/metrics`` of a real ``floww serve``: refused without the token, and once a deployed
workflow has answered webhooks, the figures read back through the Prometheus client's own
parser (executions by status and trigger type, durations, webhook answers, queue and workers)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.lifecycle import (
    client_env,
    deploy,
    make_project,
    server_env,
    wait_until,
    webhook_url,
)
from tests.integration.serving import running_server

pytestmark = pytest.mark.integration

TOKEN = "metrics-token-for-tests-0123456789"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_webhook_executions_and_need_the_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = server_env(metrics="token", metrics_token=TOKEN)
    with running_server(home, env=env) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 401
        wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "FLOWW_METRICS_TOKEN" in wrong.text

        cli = client_env(server, tmp_path)
        deployed = deploy(cli, make_project(tmp_path, "hello", cli))
        hook = webhook_url(deployed, "/hello/").replace("{name}", "ada")
        for _ in range(3):
            assert httpx.post(hook, timeout=60).status_code == 200
        assert httpx.get(hook, timeout=60).status_code == 405

        auth = {"Authorization": f"Bearer {TOKEN}"}

        def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
            answer = httpx.get(f"{server.url}/metrics", headers=auth, timeout=10)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain")
            samples = _samples(answer.text)
            done = (
                "floww_executions_total",
                (("status", "completed"), ("trigger", "builtin.webhook")),
            )
            return samples if samples.get(done) == 3 else None

        samples = wait_until(scraped, timeout=10)
        assert samples is not None, "three completed webhook executions were never counted"
        durations = ("floww_execution_duration_seconds_count", (("trigger", "builtin.webhook"),))
        assert samples[durations] == 3
        assert samples[("floww_webhook_responses_total", (("status", "200"),))] == 3
        assert samples[("floww_webhook_responses_total", (("status", "405"),))] == 1
        assert samples[("floww_queue_depth", ())] == 0
        assert samples[("floww_function_workers", ())] >= 1
        assert ("floww_dispatcher_threads", ()) in samples


def test_metrics_are_off_unless_enabled(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with running_server(home, env=server_env()) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 404
