"""What the restart and burst tests share: a ``floww serve`` home with fast leases, projects
deployed with the real CLI, and a look at the server's database from the outside."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from floww.adapters.memory import InMemorySecretBox
from floww.adapters.sql import SqlWorkflowRepo, make_engine
from floww.domain.errors import NotFound
from floww.domain.model import Execution
from tests.integration.serving import FLOWW, RunningServer, approve_device_login

__all__ = [
    "EXAMPLE",
    "Project",
    "deploy",
    "executions_of",
    "floww_cli",
    "make_project",
    "server_env",
    "sql_repo",
    "wait_until",
]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"
T = TypeVar("T")


def server_env(database_url: str = "", **settings: str) -> dict[str, str]:
    """Settings for ``floww serve``: a 3 s lease, a 2 s response deadline, four lanes per
    workflow (unless overridden), and the database. Provider webhooks are not registered
    unless asked for (``register_provider_hooks="true"`` with a provider ``api_url`` on
    loopback, which ``sandbox_egress_allow`` must then admit): no test reaches a provider's
    real API."""
    env = {
        "FLOWW_REGISTER_PROVIDER_HOOKS": "false",
        "FLOWW_LEASE_TTL_S": "3",
        "FLOWW_RESPONSE_DEADLINE_S": "2",
        "FLOWW_CONCURRENCY_PER_WORKFLOW": "4",
        "FLOWW_WORKERS_PER_RUNTIME": "4",
        "FLOWW_EXECUTION_TIMEOUT_S": "60",
    }
    if database_url:
        env["FLOWW_DATABASE_URL"] = database_url
    return env | {f"FLOWW_{k.upper()}": v for k, v in settings.items()}


def floww_cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [*FLOWW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def client_env(server: RunningServer, base: Path) -> dict[str, str]:
    """A CLI environment logged in to ``server`` with a token from an approved device login."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWW_")}
    return env | {
        "XDG_CONFIG_HOME": str(base / "config"),
        "XDG_CACHE_HOME": str(base / "cache"),
        "FLOWW_SERVER": server.url,
        "FLOWW_TOKEN": approve_device_login(server),
    }


class Project:
    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name


def make_project(base: Path, name: str, env: dict[str, str], extra: str = "") -> Project:
    """``floww init`` a project and give it examples/hello's code, plus ``extra`` source."""
    path = base / name
    made = floww_cli(env, "init", str(path), "--name", name, "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    shutil.copy(EXAMPLE / "requirements.txt", path / "requirements.txt")
    code = (EXAMPLE / "main.py").read_text() + textwrap.dedent(extra)
    (path / "main.py").write_text(code)
    return Project(path, name)


def deploy(env: dict[str, str], project: Project) -> dict[str, Any]:
    done = floww_cli(env, "deploy", "--yes", "--json", cwd=project.path)
    assert done.returncode == 0, done.stdout + done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def webhook_url(deployed: dict[str, Any], fragment: str) -> str:
    return str(next(u for u in deployed["webhook_urls"] if fragment in u).split(" ", 1)[1])


@contextmanager
def sql_repo(database_url: str) -> Iterator[SqlWorkflowRepo]:
    """The server's own database, read from outside it."""
    engine = make_engine(database_url)
    try:
        yield SqlWorkflowRepo(engine, InMemorySecretBox())
    finally:
        engine.dispose()


def executions_of(
    repo: SqlWorkflowRepo, workflow_id: str, *, cron: bool = False
) -> list[Execution]:
    """The workflow's executions, newest first. Runs of cron triggers are left out unless
    ``cron``: the projects carry examples/hello's five-minute cron, whose tick may fall inside
    any test (it did in CI), and a test counting its own runs must not count it."""
    runs = repo.list_executions(workflow_id, limit=10_000)
    if cron:
        return runs
    kinds: dict[str, str] = {}
    for run in runs:
        if run.trigger_id not in kinds:
            try:
                kinds[run.trigger_id] = repo.get_trigger(run.trigger_id).spec.trigger_type
            except NotFound:  # a trigger a later deploy removed: a cron event names its tick
                scheduled = isinstance(run.event, dict) and "scheduled_time" in run.event
                kinds[run.trigger_id] = "cron" if scheduled else "removed"
    return [run for run in runs if kinds[run.trigger_id] != "cron"]


def wait_until(probe: Callable[[], T | None], timeout: float, step: float = 0.2) -> T | None:
    """The first truthy answer of ``probe`` within ``timeout`` seconds, else ``None``."""
    until = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() >= until:
            return None
        time.sleep(step)
