"""A worker that dies mid-invocation — by its own hand or killed from outside — leaves a
FAILED execution (never a STARTED one forever), and the next request is served. Runs the
webhook use case over SQLite and the local worker-process host."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from floww.adapters.local.function_host import LocalFunctionHost
from floww.adapters.memory import (
    FakeImageBuilder,
    InMemoryIdentity,
    InMemoryImageRegistry,
    InMemorySecretBox,
)
from floww.adapters.sql import SqlWorkflowRepo, make_engine, migrate
from floww.domain.model import CodeBundle, ExecutionStatus, Principal, RuntimeTarget, Workflow
from floww.domain.usecases.deployments import DeploymentRequest, create_deployment, create_runtime
from floww.domain.usecases.deps import ServerDeps, ServerSettings
from floww.domain.usecases.webhooks import IncomingRequest, WebhookResponse, handle_webhook
from floww.domain.usecases.workflows import create_namespace, create_workflow
from tests.contracts.factories_local_host import FLOWW_SOURCE
from tests.support import memory_deps

pytestmark = pytest.mark.integration

CODE = textwrap.dedent(
    """
    import os, time
    from floww import Builtin

    builtin = Builtin()

    @builtin.webhook("/ok")
    def ok(ctx, event):
        return {"pid": os.getpid()}

    @builtin.webhook("/die")
    def die(ctx, event):
        os._exit(7)

    @builtin.webhook("/hang")
    def hang(ctx, event):
        time.sleep(30)
    """
)


@pytest.fixture
def registry() -> InMemoryImageRegistry:
    return InMemoryImageRegistry()


@pytest.fixture
def deps(tmp_path: Path, registry: InMemoryImageRegistry) -> Iterator[ServerDeps]:
    engine = make_engine(f"sqlite:///{tmp_path / 'floww.db'}")
    migrate(engine)
    with (
        LocalFunctionHost(
            registry,
            tmp_path / "images",
            workers_per_runtime=1,
            fallback_path=[FLOWW_SOURCE],
        ) as host,
        memory_deps(
            repo=SqlWorkflowRepo(engine, InMemorySecretBox()),
            host=host,
            settings=ServerSettings(response_deadline_s=20, execution_timeout_s=15),
        ) as deps,
    ):
        yield deps
    engine.dispose()


@pytest.fixture
def deployed(
    deps: ServerDeps, registry: InMemoryImageRegistry
) -> tuple[Workflow, LocalFunctionHost, str]:
    assert isinstance(deps.identity, InMemoryIdentity)
    user: Principal = deps.identity.create_user("ops@example.com")
    namespace = create_namespace(deps, user, "ops")
    workflow = create_workflow(deps, user, namespace.id, "fragile")
    image = FakeImageBuilder().build(RuntimeTarget("linux/amd64", "3.11"), []).image
    registry.push(f"floww/{namespace.id}", "tag", image)
    runtime = create_runtime(
        deps,
        user,
        namespace_id=namespace.id,
        spec_hash="tag",
        image_ref=f"floww/{namespace.id}:tag",
    )
    create_deployment(
        deps,
        user,
        DeploymentRequest(workflow.id, runtime.id, CodeBundle("main.py", {"main.py": CODE})),
    )
    assert isinstance(deps.host, LocalFunctionHost)
    return workflow, deps.host, runtime.id


def _call(deps: ServerDeps, workflow: Workflow, path: str) -> WebhookResponse:
    return handle_webhook(deps, IncomingRequest(workflow.id, "POST", path, {}, {}, b""))


def test_a_worker_that_exits_fails_only_its_execution(
    deps: ServerDeps, deployed: tuple[Workflow, LocalFunctionHost, str]
) -> None:
    workflow, _, _ = deployed
    died = _call(deps, workflow, "/die")
    assert died.status == 500
    execution = deps.repo.get_execution(died.execution_id or "")
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error is not None and "exited with code 7" in execution.error.message
    assert _call(deps, workflow, "/ok").status == 200


def test_a_worker_killed_from_outside_fails_its_execution(
    deps: ServerDeps, deployed: tuple[Workflow, LocalFunctionHost, str]
) -> None:
    workflow, host, runtime_id = deployed
    pid = _call(deps, workflow, "/ok").body["pid"]
    assert pid in host.worker_pids(runtime_id)

    def kill_soon() -> None:
        time.sleep(1.0)
        os.kill(pid, signal.SIGKILL)

    threading.Thread(target=kill_soon, daemon=True).start()
    hung = _call(deps, workflow, "/hang")
    execution = deps.repo.get_execution(hung.execution_id or "")
    assert execution.status == ExecutionStatus.FAILED, execution
    assert _call(deps, workflow, "/ok").status == 200


def test_a_worker_killed_while_idle_is_not_handed_out_again(
    deps: ServerDeps, deployed: tuple[Workflow, LocalFunctionHost, str]
) -> None:
    """The pool notices an idle worker's death (its error output closes) without asking the
    process: the next call is served by a new worker, not failed on the dead one."""
    workflow, _, _ = deployed
    pid = _call(deps, workflow, "/ok").body["pid"]
    assert _call(deps, workflow, "/ok").body["pid"] == pid  # the idle worker, handed out again
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # the worker's reader thread sees its output close
    again = _call(deps, workflow, "/ok")
    assert again.status == 200, again  # not failed on the dead worker
    assert again.body["pid"] != pid


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


_ESCAPING_RUNTIME = """
import json, os, sys, time
for line in sys.stdin:
    if json.loads(line).get("type") == "ping":
        sys.stdout.write(json.dumps({"ok": True, "pong": True}) + "\\n")
        sys.stdout.flush()
        continue
    if os.fork() == 0:  # a child that leaves the process group, keeping the output open
        os.setsid()
        time.sleep(2.0)
        os._exit(0)
    time.sleep(60)
"""


def test_a_worker_killed_by_another_thread_never_answers_from_a_reused_descriptor(
    tmp_path: Path,
) -> None:
    """A run is cancelled (its worker killed from another thread) while its caller waits for
    the answer, and a process that escaped the kill keeps the output pipe open; the pipe's
    descriptor number is then taken by another file with data in it. The caller learns that
    the worker is gone: it never reads the other file's bytes as the worker's answer."""
    from floww.adapters.local.workers import Worker, WorkerSpec
    from floww.domain.errors import Unavailable

    (tmp_path / "runtime.py").write_text(_ESCAPING_RUNTIME)
    launcher = tmp_path / "python"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {tmp_path / 'runtime.py'}\n")
    launcher.chmod(0o755)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    worker = Worker(WorkerSpec(str(launcher), [], {}, scratch, 10.0))
    descriptor = worker._stdout
    outcome: dict[str, object] = {}

    def ask() -> None:
        try:
            outcome["answer"] = worker.request({"type": "run"}, 10.0)
        except Exception as exc:
            outcome["error"] = exc

    asking = threading.Thread(target=ask)
    asking.start()
    time.sleep(0.5)
    killing = threading.Thread(target=worker.kill)
    killing.start()
    killing.join(10)
    with pytest.raises(OSError):
        os.fstat(descriptor)  # closed by the kill
    other, writer = os.pipe()
    os.dup2(other, descriptor)  # what the next open() or socket() would be given
    os.write(writer, b'{"ok": true, "result": "another file\'s bytes"}\n')
    asking.join(15)
    os.close(writer)
    os.close(other)
    os.close(descriptor)
    assert "answer" not in outcome, outcome
    assert isinstance(outcome.get("error"), Unavailable)
