"""A floww server in memory, a project copied from examples/hello and a dev loop over them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from floww.adapters.inprocess import InProcessRunner, SystemClock
from floww.adapters.memory import InMemoryIdentity, ScriptedPrompter
from floww.adapters.memory.platform import InProcessPlatform
from floww.domain.model import Principal, RuntimeTarget, Workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.dev import DevSession
from floww.domain.usecases.workflows import create_namespace, create_workflow
from floww.entrypoints.cli.devloop import DevLoop, DevOutput
from floww.sdk.bundle import bundle_from_directory
from floww.sdk.catalog import fields_for
from floww.sdk.kv import InMemoryKvBackend
from tests.support import EXAMPLES, memory_deps

EXAMPLE = EXAMPLES / "hello"
TARGET = RuntimeTarget("linux/amd64", "3.12")


@attrs.define
class World:
    deps: ServerDeps
    user: Principal
    workflow: Workflow
    project: Path
    prompter: ScriptedPrompter
    lines: list[str]
    loop: DevLoop

    @property
    def main(self) -> Path:
        return self.project / "main.py"


@pytest.fixture
def deps() -> Iterator[ServerDeps]:
    with memory_deps() as deps:
        yield deps


@pytest.fixture
def world(deps: ServerDeps, tmp_path: Path) -> Iterator[World]:
    auth = deps.identity
    assert isinstance(auth, InMemoryIdentity)
    user = auth.create_user("ada@example.com")
    namespace = create_namespace(deps, user, "acme")
    workflow = create_workflow(deps, user, namespace.id, "hello")
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    prompter = ScriptedPrompter({"secret:stripe.api_key": "sk_test_123"})
    platform = InProcessPlatform(deps, user, target=TARGET, provider_fields=fields_for)
    session = DevSession(
        workflow=workflow,
        read_code=lambda: bundle_from_directory(project, "main.py"),
        platform=platform,
        runner=InProcessRunner(kv_backend=InMemoryKvBackend()),
        prompter=prompter,
        deadline_ms=5_000,
    )
    lines: list[str] = []
    loop = DevLoop(session, DevOutput(lines.append), clock=SystemClock())
    yield World(deps, user, workflow, project, prompter, lines, loop)
    loop.stop()
