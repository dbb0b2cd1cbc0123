"""Rerun, replay and cancel through the real CLI against a real ``floww serve``: a recorded
webhook event runs again on the active deployment with the same answer; replayed, it runs
against the edited local code and nothing is recorded on the server; and a handler that is
still running is cancelled at once, its worker stopped, and the record stays cancelled."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.lifecycle import (
    client_env,
    deploy,
    floww_cli,
    make_project,
    server_env,
    wait_until,
    webhook_url,
)
from tests.integration.serving import running_server

pytestmark = pytest.mark.integration

SLOW = """

import time


@builtin.webhook("/slow", methods=["POST"])
def slow(ctx: Context, event: WebhookEvent) -> dict[str, bool]:
    ctx.log.info("sleeping")
    time.sleep(30)
    return {"slept": True}
"""


def _json(env: dict[str, str], project: Path, *args: str) -> Any:
    done = floww_cli(env, *args, "--json", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_rerun_repeats_an_event_and_cancel_stops_a_running_handler(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with running_server(home, env=server_env(execution_timeout_s="60")) as server:
        cli = client_env(server, tmp_path)
        project = make_project(tmp_path, "hello", cli, extra=SLOW)
        deployed = deploy(cli, project)
        hello = webhook_url(deployed, "/hello/").replace("{name}", "ada")
        first = httpx.post(hello, timeout=60)
        assert first.json() == {"message": "hi ada"}
        first_id = first.headers["x-floww-execution-id"]

        again = floww_cli(
            cli, "executions", "rerun", first_id, "--wait", "--json", cwd=project.path
        )
        assert again.returncode == 0, again.stdout + again.stderr
        rerun = json.loads(again.stdout)
        assert rerun["id"] != first_id and rerun["status"] == "completed"
        assert rerun["result"] == {"message": "hi ada"}
        assert f"rerun of {first_id}" in rerun["triggered_by"]
        assert rerun["event"]["path_params"] == {"name": "ada"}

        main = project.path / "main.py"
        main.write_text(main.read_text().replace('f"hi {name}"', 'f"edited code says hi {name}"'))
        before = _json(cli, project.path, "executions", "list")
        replayed = floww_cli(cli, "executions", "replay", first_id, "--json", cwd=project.path)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        answer = json.loads(replayed.stdout)
        assert answer["ok"] is True and answer["replayed"] == first_id
        assert answer["result"] == {"message": "edited code says hi ada"}
        assert any("saying hi to ada" in line["message"] for line in answer["logs"])
        assert _json(cli, project.path, "executions", "list") == before
        main.write_text(main.read_text().replace("def hello(", "def hello_renamed("))
        main.write_text(main.read_text().replace('"/hello/{name}"', '"/hi/{name}"'))
        gone = floww_cli(cli, "executions", "replay", first_id, cwd=project.path)
        assert gone.returncode != 0 and "declares no trigger like" in gone.stderr
        assert "Traceback" not in gone.stderr

        slow = webhook_url(deployed, "/slow")
        threading.Thread(target=lambda: httpx.post(slow, timeout=60), daemon=True).start()

        def running() -> str | None:
            found = _json(cli, project.path, "executions", "list", "--status", "started")
            return next((x["id"] for x in found if x["trigger"] and "/slow" in x["trigger"]), None)

        slow_id = wait_until(running, timeout=20)
        assert slow_id is not None
        workers = _children(server.process.pid)
        cancelled = floww_cli(cli, "executions", "cancel", slow_id, cwd=project.path)
        assert cancelled.returncode == 0 and f"Cancelled {slow_id}" in cancelled.stdout

        shown = _json(cli, project.path, "executions", "show", slow_id)
        assert shown["status"] == "cancelled"
        assert shown["error"]["type"] == "Cancelled"
        twice = floww_cli(cli, "executions", "cancel", slow_id, cwd=project.path)
        assert twice.returncode != 0 and "already finished" in twice.stderr + twice.stdout
        assert "Traceback" not in twice.stderr

        # the worker running the handler was stopped, not left sleeping
        assert wait_until(lambda: workers - _children(server.process.pid), 10), workers
        assert httpx.post(hello, timeout=60).json() == {"message": "hi ada"}
        assert _json(cli, project.path, "executions", "show", slow_id)["status"] == "cancelled"


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (the server's worker processes)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in status:
            found.add(int(entry.name))
    return found
