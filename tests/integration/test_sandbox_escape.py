"""A handler deployed to a real ``floww serve`` tries to break out of its sandbox, as a tenant
who does not trust the others would; every attempt fails and the platform stays healthy.

The server runs with ``FLOWW_SANDBOX=bwrap`` (it refuses to start unsandboxed then), a 256 MiB
memory limit and 64 processes per namespace. Two namespaces: ``default`` deploys the escape
handler, ``other`` (made in the database directly: this build has no route to create one)
deploys examples/hello, whose runtime is the "other runtime" the handler looks for.

Everything under the home, the database's WAL included, is owner-only while it runs.

Then the server is killed with SIGKILL while a handler's detached child runs: the child dies
with it; and the server restarted on the same home serves at once, sandboxed, without a
redeploy.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from floww.adapters.local.private_home import not_private
from floww.adapters.local.sandbox import BwrapSandbox, probe_bwrap
from floww.domain.model import ExecutionStatus, Member, Namespace
from tests.integration.lifecycle import (
    client_env,
    deploy,
    executions_of,
    floww_cli,
    make_project,
    server_env,
    sql_repo,
    wait_until,
    webhook_url,
)
from tests.integration.postgres import skip_or_fail
from tests.integration.serving import running_server
from tests.integration.test_local_function_host import gone
from tests.integration.test_sandbox_limits import one_sleeper, sleepers

pytestmark = pytest.mark.integration

ESCAPE = """

import os as _os
import signal as _signal
import subprocess as _subprocess
import time as _time


def _attempt(action):
    try:
        value = action()
    except BaseException as exc:
        return "refused: " + type(exc).__name__ + ": " + str(exc)[:60]
    return "done: " + repr(value)[:80]


def _read(path):
    return _os.listdir(path) if _os.path.isdir(path) else open(path, "rb").read(64)


@builtin.webhook("/escape", methods=["POST"])
def escape(ctx: Context, event: WebhookEvent) -> dict:
    body = event.body
    tries = {path: _attempt(lambda p=path: _read(p)) for path in body["paths"]}
    pid = body["server_pid"]
    tries["signal the server"] = _attempt(lambda: _os.kill(pid, _signal.SIGKILL))
    tries["signal its group"] = _attempt(lambda: _os.killpg(pid, _signal.SIGKILL))
    return {"tries": tries, "uid": _os.getuid()}


@builtin.webhook("/eat", methods=["POST"])
def eat(ctx: Context, event: WebhookEvent) -> int:
    return len(bytearray(event.body["mib"] * 1024 * 1024))


@builtin.webhook("/fork", methods=["POST"])
def fork(ctx: Context, event: WebhookEvent) -> dict:
    born = 0
    try:
        for _ in range(1000):
            if _os.fork() == 0:
                _time.sleep(2)
                _os._exit(0)
            born += 1
    except OSError as exc:
        stopped_by = type(exc).__name__
    else:
        stopped_by = None
    for _ in range(born):  # zombies would hold the namespace's process slots
        _os.wait()
    return {"born": born, "stopped_by": stopped_by}


@builtin.webhook("/detach", methods=["POST"])
def detach(ctx: Context, event: WebhookEvent) -> str:
    _subprocess.Popen(["sleep", event.body["seconds"]], start_new_session=True)
    return "left a child behind"
"""


def other_namespace(home: Path, admin_token: str, url: str) -> None:
    """Namespace ``other``, owned by the admin, written to the server's database."""
    me = httpx.get(
        f"{url}/api/whoami", headers={"authorization": f"Bearer {admin_token}"}, timeout=10
    ).json()
    with sql_repo(f"sqlite:///{home / 'floww.db'}") as repo:
        repo.create_namespace(Namespace("ns_other", "other", datetime.now(UTC)))
        repo.add_member(Member("ns_other", str(me["id"]), "owner"))


def select(cli: dict[str, str], namespace: str) -> None:
    chosen = floww_cli(cli, "namespace", "select", namespace)
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url, json=body, timeout=60)


def test_a_handler_cannot_escape_and_the_platform_stays_healthy(tmp_path: Path) -> None:
    problem = probe_bwrap(BwrapSandbox.for_python(sys.executable))
    if problem is not None:
        skip_or_fail(f"workers cannot be sandboxed here: {problem}")
    home = tmp_path / "home"
    home.mkdir()
    env = server_env(
        sandbox="bwrap",
        response_deadline_s="30",
        sandbox_memory_mb="256",
        sandbox_processes="64",
        workers_per_runtime="2",
        concurrency_per_workflow="2",
    )
    with running_server(home, env=env) as server:
        assert "Workers run sandboxed (bubblewrap; memory 256 MiB" in server.output()
        cli = client_env(server, tmp_path)
        other_namespace(home, cli["FLOWW_TOKEN"], server.url)

        select(cli, "other")
        theirs = make_project(tmp_path, "theirs", cli)
        their_hello = webhook_url(deploy(cli, theirs), "/hello/").replace("{name}", "x")
        assert post(their_hello, {}).status_code == 200  # their runtime is unpacked and staged
        their_files = sorted(str(p) for p in (home / "runtimes").rglob("*") if p.is_file())
        assert their_files

        select(cli, "default")
        mine = make_project(tmp_path, "mine", cli, ESCAPE)
        deployed = deploy(cli, mine)
        paths = [
            str(home),
            str(home / "keys"),
            *(str(p) for p in (home / "keys").iterdir()),
            str(home / "floww.db"),
            str(home / "floww.db-wal"),
            str(home / "registry"),
            str(home / "runtimes"),
            *their_files[:5],
            f"/proc/{server.process.pid}/environ",
            f"/proc/{server.process.pid}/cmdline",
            "/proc/1/environ",  # the sandbox's own init: bwrap, as root
            "/etc/shadow",
        ]
        answer = post(
            webhook_url(deployed, "/escape"),
            {
                "paths": paths,
                "server_pid": server.process.pid,
            },
        )
        assert answer.status_code == 200, answer.text
        tries = answer.json()["tries"]
        assert {p: t for p, t in tries.items() if not t.startswith("refused")} == {}
        assert len(tries) == len(paths) + 2
        assert answer.json()["uid"] not in {0, os.getuid()}

        eaten = post(webhook_url(deployed, "/eat"), {"mib": 512})
        assert eaten.status_code >= 500
        with sql_repo(f"sqlite:///{home / 'floww.db'}") as repo:
            runs = executions_of(repo, deployed["workflow"]["id"])
        failed = [r for r in runs if r.status is ExecutionStatus.FAILED]
        assert len(failed) == 1 and failed[0].error is not None
        assert "memory limit is 256 MiB" in failed[0].error.message, failed[0].error

        bomb = post(webhook_url(deployed, "/fork"), {})
        assert bomb.status_code == 200, bomb.text
        assert bomb.json()["stopped_by"] and bomb.json()["born"] < 64, bomb.json()

        detached = post(webhook_url(deployed, "/detach"), {"seconds": "921"})
        assert detached.status_code == 200, detached.text
        child = one_sleeper("921")

        assert server.process.poll() is None
        assert httpx.get(f"{server.url}/api/config", timeout=10).status_code == 200
        hello = webhook_url(deployed, "/hello/").replace("{name}", "still")
        assert wait_until(lambda: post(hello, {}).status_code == 200, timeout=30)
        assert post(their_hello, {}).status_code == 200
        first_url = server.url
        assert not_private(home) == [], "everything under the home is owner-only"
    assert gone(child), "a clean shutdown ends what a handler left behind"

    with running_server(home, env=env) as server:
        assert "Workers run sandboxed" in server.output()
        hello = hello.replace(first_url, server.url)
        detach = webhook_url(deployed, "/detach").replace(first_url, server.url)
        answered = post(hello, {})
        assert answered.status_code == 200, answered.text
        assert json.loads(answered.text) == {"message": "hi still"}
        # A worker replaced just after answering takes its child along (as it should): ask
        # again until a child outlives its call, so SIGKILL has something to take.
        found: list[int] = []
        for _ in range(3):
            assert post(detach, {"seconds": "922"}).status_code == 200
            found = wait_until(lambda: sleepers("922"), timeout=3) or []
            if found:
                break
        assert found, "no detached child outlived its call"
        child = found[0]
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        assert gone(child), "a killed server takes its sandboxes with it"
