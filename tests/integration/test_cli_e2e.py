"""The real CLI, as subprocesses, against a real ``floww serve`` on loopback: device login
approved through the ``/device`` page, ``init``, ``deploy`` of examples/hello (daemonless
image pushed to the server's ``/v2/``), its webhook answering, a second deploy that neither
builds nor uploads, ``--plan`` after an edit, and ``logs``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.serving import FLOWW, RunningServer, approve_user_code, running_server

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("floww-home")
    with running_server(home) as running:
        yield running


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("client")
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWW_TOKEN", "FLOWW_SERVER")}
    env |= {"XDG_CONFIG_HOME": str(base / "config"), "XDG_CACHE_HOME": str(base / "cache")}
    return env


def floww(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLOWW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def logged_in(server: RunningServer, cli_env: dict[str, str]) -> dict[str, str]:
    process = subprocess.Popen(
        [*FLOWW, "login", "--server", server.url, "--no-browser"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            found = re.search(r"enter the code:\s+([A-Z]{4}-[A-Z]{4})", line)
            if found:
                approve_user_code(server, found.group(1))
                break
        else:
            pytest.fail(f"floww login printed no code:\n{''.join(seen)}")
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, "".join(seen) + rest
    assert "Logged in" in rest
    credentials = Path(cli_env["XDG_CONFIG_HOME"]) / "floww" / "credentials.json"
    assert credentials.stat().st_mode & 0o777 == 0o600
    return cli_env


def _deploy_json(env: dict[str, str], project: Path) -> dict[str, Any]:
    done = floww(env, "deploy", "--yes", "--json", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def _registry_files(server: RunningServer) -> set[Path]:
    return {p for p in (server.home / "registry").rglob("*") if p.is_file()}


def test_login_init_deploy_call_redeploy_plan_logs(
    server: RunningServer, logged_in: dict[str, str], tmp_path: Path
) -> None:
    env = logged_in
    who = floww(env, "whoami", "--json")
    assert json.loads(who.stdout)["email"] == "admin@localhost", who.stderr

    project = tmp_path / "hello"
    made = floww(env, "init", str(project), "--name", "hello", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    shutil.copy(EXAMPLE / "main.py", project / "main.py")

    first = _deploy_json(env, project)
    assert (first["built"], first["uploaded"], first["runtime_created"]) == (True, True, True)
    hook = next(u for u in first["webhook_urls"] if "/hello/" in u).split(" ", 1)[1]
    answer = httpx.post(hook.replace("{name}", "ada"), json={}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"message": "hi ada"}

    # Second deploy, same dependencies: the CLI reports nothing built or uploaded, and the
    # registry on disk gains no file (no blob, no manifest).
    registry_before = _registry_files(server)
    second = _deploy_json(env, project)
    assert (second["built"], second["uploaded"], second["runtime_created"]) == (False,) * 3
    assert second["image_ref"] == first["image_ref"]
    assert _registry_files(server) == registry_before

    main = project / "main.py"
    main.write_text(main.read_text().replace('@builtin.manual("greet")', '@builtin.manual("hi")'))
    plan = floww(env, "deploy", "--plan", cwd=project)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    changes = [
        line.strip() for line in plan.stdout.splitlines() if line.strip()[:2] in ("+ ", "- ")
    ]
    assert changes == ["+ manual hi", "- manual greet"]

    logs = floww(env, "logs", cwd=project)
    assert logs.returncode == 0, logs.stderr
    assert "saying hi to ada" in logs.stdout

    listed = floww(env, "executions", "list", "--json", cwd=project)
    # examples/hello's five-minute cron may tick during the test: only the webhook's run counts.
    webhook_runs = [
        e for e in json.loads(listed.stdout) if "cron" not in str(e.get("trigger") or "")
    ]
    assert [e["status"] for e in webhook_runs] == ["completed"]


FAILING = """
from floww import Builtin

builtin = Builtin()


@builtin.webhook("/fail", methods=["POST"])
def fail(ctx, event):
    ctx.log.warning("about to fail")
    raise RuntimeError("kaboom")
"""


def test_a_failed_run_shows_its_traceback(
    server: RunningServer, logged_in: dict[str, str], tmp_path: Path
) -> None:
    env = logged_in
    project = tmp_path / "failing"
    made = floww(env, "init", str(project), "--name", "failing", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    (project / "main.py").write_text(FAILING)
    deployed = _deploy_json(env, project)
    hook = deployed["webhook_urls"][0].split(" ", 1)[1]
    assert httpx.post(hook, json={}, timeout=60).status_code == 500

    (entry,) = json.loads(
        floww(
            env, "executions", "list", "--json", "--status", "failed", "--since", "1h", cwd=project
        ).stdout
    )
    assert "owner" not in entry and "lease_expires_at" not in entry
    shown = floww(env, "executions", "show", entry["id"])
    assert shown.returncode == 0, shown.stderr
    assert "RuntimeError: kaboom" in shown.stdout and 'raise RuntimeError("kaboom")' in shown.stdout
    logs = floww(env, "logs", entry["id"])
    assert "about to fail" in logs.stdout and "Traceback" in logs.stdout, logs.stderr
    across = floww(env, "executions", "list", "--all-workflows", "--json", cwd=tmp_path)
    assert entry["id"] in {e["id"] for e in json.loads(across.stdout)}, across.stderr


def test_logout_forgets(server: RunningServer, logged_in: dict[str, str]) -> None:
    out = floww(logged_in, "logout")
    assert out.returncode == 0, out.stderr
    after = floww(logged_in, "whoami")
    assert after.returncode == 77
    assert "floww login" in after.stderr
