"""Retries of a provider delivery against a real ``floww serve``: a GitHub push whose handler
fails twice and then succeeds ends COMPLETED on attempt 3, each attempt recorded with the
backoff waited before it, and the pending retry survives a restart of the server in the
middle of its backoff (it lives in the database only).

GitHub itself cannot be reached here: the test signs the delivery as GitHub does
(``X-Hub-Signature-256`` over the raw body with the webhook secret); what it does not cover is
GitHub's own redelivery behaviour, which floww does not rely on."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.lifecycle import (
    client_env,
    deploy,
    make_project,
    server_env,
    wait_until,
)
from tests.integration.serving import running_server

pytestmark = pytest.mark.integration

BACKOFF_S = 3.0
WEBHOOK_SECRET = "github-webhook-secret-for-tests"
FLAKY = f"""

from floww import GitHub, Retry

github = GitHub()


@github.on_push(
    "acme", "api", retry=Retry(attempts=3, backoff_s={BACKOFF_S}, max_backoff_s=60, jitter=0)
)
def build(ctx: Context, event) -> dict[str, int]:
    attempt = ctx.kv.get("attempts", 0) + 1
    ctx.kv.set("attempts", attempt)
    if attempt < 3:
        raise RuntimeError(f"flaky build, attempt {{attempt}}")
    return {{"built_on_attempt": attempt}}
"""
PUSH = {
    "ref": "refs/heads/main",
    "repository": {"full_name": "acme/api"},
    "pusher": {"name": "ada"},
}


def _deliver(url: str) -> httpx.Response:
    body = json.dumps(PUSH).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": "delivery-1",
        "x-hub-signature-256": f"sha256={signature}",
    }
    return httpx.post(url, content=body, headers=headers, timeout=30)


def _executions(base: str, token: str, workflow_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{base}/api/workflows/{workflow_id}/executions",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    # only the push's runs (hello's cron may tick meanwhile)
    pushes = [x for x in items if "push" in (x["trigger"] or "")]
    return sorted(pushes, key=lambda x: x["attempt"])


def test_a_delivery_failing_twice_completes_on_attempt_3_across_a_restart(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = server_env()
    with running_server(home, env=env) as server:
        cli = client_env(server, tmp_path)
        token = cli["FLOWW_TOKEN"]
        auth = {"Authorization": f"Bearer {token}"}
        namespace = httpx.get(f"{server.url}/api/namespaces", headers=auth).json()["items"][0]
        configured = httpx.put(
            f"{server.url}/api/namespaces/{namespace['id']}/providers/github/default",
            json={"config": {"token": "ghp_unused", "webhook_secret": WEBHOOK_SECRET}},
            headers=auth,
        )
        assert configured.status_code == 200, configured.text
        deployed = deploy(cli, make_project(tmp_path, "flaky", cli, extra=FLAKY))
        workflow_id = deployed["workflow"]["id"]
        hook = next(u for u in deployed["webhook_urls"] if "github" in u).split(" ", 1)[-1]

        accepted = _deliver(hook)
        assert accepted.status_code == 200 and accepted.json() == {"ok": True}

        def first_failed_and_second_waits() -> list[dict[str, Any]] | None:
            runs = _executions(server.url, token, workflow_id)
            done = [x["status"] for x in runs] == ["failed", "received"]
            return runs if done else None

        runs = wait_until(first_failed_and_second_waits, timeout=BACKOFF_S - 0.5, step=0.1)
        assert runs is not None, _executions(server.url, token, workflow_id)
    stopped_at = time.monotonic()

    with running_server(home, env=env) as again:
        assert time.monotonic() - stopped_at < BACKOFF_S * 3

        def settled() -> list[dict[str, Any]] | None:
            runs = _executions(again.url, token, workflow_id)
            return runs if [x["status"] for x in runs][-1:] == ["completed"] else None

        runs = wait_until(settled, timeout=BACKOFF_S * 6)
        assert runs is not None, _executions(again.url, token, workflow_id)

    first = runs[0]
    assert [x["status"] for x in runs] == ["failed", "failed", "completed"]
    assert [x["attempt"] for x in runs] == [1, 2, 3]
    assert [x["retry_of"] for x in runs] == [None, first["id"], first["id"]]
    # exponential backoff without jitter: 3 s, then 6 s
    assert [x["retry_delay_s"] for x in runs] == [None, BACKOFF_S, BACKOFF_S * 2]
    assert first["error"]["message"] == "flaky build, attempt 1"
    for earlier, later in itertools.pairwise(runs):
        waited = _at(later["started_at"]) - _at(earlier["finished_at"])
        assert waited >= later["retry_delay_s"] - 0.05


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
