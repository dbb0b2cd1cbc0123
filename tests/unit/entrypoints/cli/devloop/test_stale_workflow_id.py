"""``floww dev`` and ``floww deploy`` resolve the workflow of ``floww.toml`` by one rule: the
recorded id, and when that workflow is gone, the workflow of the project's name (the CLI then
records its id), saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

from floww.adapters.inprocess import InProcessRunner
from floww.adapters.memory import FakeImageBuilder, InMemoryImageRegistry, ScriptedPrompter
from floww.adapters.memory.platform import InProcessPlatform
from floww.domain.errors import InvalidInput
from floww.domain.model import Workflow
from floww.domain.usecases.deploy import DeployDeps, DeployRequest, deploy
from floww.domain.usecases.project_workflow import resolve_workflow
from floww.sdk.bundle import bundle_from_directory
from floww.sdk.catalog import fields_for
from floww.sdk.kv import InMemoryKvBackend
from tests.unit.entrypoints.cli.devloop.conftest import TARGET, World

CODE = """\
from floww import Builtin

builtin = Builtin()


@builtin.webhook("/ping")
def ping(ctx, event):
    return "pong"
"""


def _dev(world: World, name: str, workflow_id: str) -> tuple[Workflow | str, list[str]]:
    platform = InProcessPlatform(world.deps, world.user, target=TARGET, provider_fields=fields_for)
    prompter = ScriptedPrompter()
    try:
        found: Workflow | str = resolve_workflow(
            platform,
            name=name,
            workflow_id=workflow_id,
            namespace_id=lambda: world.workflow.namespace_id,
            prompter=prompter,
            assume_yes=False,
        )
    except InvalidInput as exc:
        found = type(exc).__name__
    return found, prompter.said


def _deploy_plan(
    world: World, name: str, workflow_id: str, tmp_path: Path
) -> tuple[Workflow | str, list[str]]:
    platform = InProcessPlatform(world.deps, world.user, target=TARGET, provider_fields=fields_for)
    prompter = ScriptedPrompter()
    project = tmp_path / "ping"
    project.mkdir(exist_ok=True)
    (project / "main.py").write_text(CODE, encoding="utf-8")
    request = DeployRequest(
        namespace_id=world.workflow.namespace_id,
        workflow_name=name,
        code=bundle_from_directory(project, "main.py"),
        workflow_id=workflow_id,
        plan=True,
    )
    try:
        tools = DeployDeps(
            platform=platform,
            registry=InMemoryImageRegistry(),
            builder=FakeImageBuilder(),
            runner=InProcessRunner(kv_backend=InMemoryKvBackend()),
            prompter=prompter,
        )
        found: Workflow | str = deploy(tools, request).workflow
    except InvalidInput as exc:
        found = type(exc).__name__
    return found, prompter.said


@pytest.mark.parametrize("workflow_id", ["wf_gone", "recorded"])
def test_dev_and_deploy_resolve_the_recorded_id_alike(
    world: World, tmp_path: Path, workflow_id: str
) -> None:
    wanted = world.workflow.id if workflow_id == "recorded" else workflow_id
    dev = _dev(world, "hello", wanted)
    deployed = _deploy_plan(world, "hello", wanted, tmp_path)

    assert dev == deployed
    assert dev[0] == world.workflow


def test_a_stale_id_says_what_happened_in_dev_and_deploy(world: World, tmp_path: Path) -> None:
    dev = _dev(world, "hello", "wf_gone")
    deployed = _deploy_plan(world, "hello", "wf_gone", tmp_path)

    assert dev[1] == deployed[1]
    assert any("wf_gone" in line and "'hello'" in line for line in dev[1])
