"""The workflow prerequisite of ``floww dev`` and ``floww deploy``: recorded id, then name,
then create or pick."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from floww.adapters.memory import ScriptedPrompter
from floww.adapters.memory.platform import InProcessPlatform
from floww.domain.errors import InvalidInput
from floww.domain.usecases.project_workflow import resolve_workflow
from floww.sdk.catalog import fields_for
from tests.unit.entrypoints.cli.devloop.conftest import TARGET, World


def _platform(world: World) -> InProcessPlatform:
    return InProcessPlatform(world.deps, world.user, target=TARGET, provider_fields=fields_for)


def test_the_recorded_id_wins_and_a_stale_one_falls_back_to_the_name(world: World) -> None:
    platform, ns = _platform(world), world.workflow.namespace_id
    prompter = ScriptedPrompter()

    by_id = resolve_workflow(
        platform,
        name="other",
        workflow_id=world.workflow.id,
        namespace_id=lambda: ns,
        prompter=prompter,
        assume_yes=False,
    )
    stale = resolve_workflow(
        platform,
        name="hello",
        workflow_id="wf_gone",
        namespace_id=lambda: ns,
        prompter=prompter,
        assume_yes=False,
    )

    assert by_id == world.workflow and stale == world.workflow
    assert prompter.said == [
        "Workflow wf_gone of floww.toml no longer exists; using the workflow named 'hello'."
    ]


def test_a_missing_workflow_is_created_with_yes_or_consent(world: World) -> None:
    platform, ns = _platform(world), world.workflow.namespace_id

    made = resolve_workflow(
        platform,
        name="fresh",
        workflow_id=None,
        namespace_id=lambda: ns,
        prompter=ScriptedPrompter(),
        assume_yes=True,
    )
    agreed = ScriptedPrompter(confirms=[True])
    again = resolve_workflow(
        platform,
        name="fresher",
        workflow_id=None,
        namespace_id=lambda: ns,
        prompter=agreed,
        assume_yes=False,
    )

    assert made.name == "fresh" and platform.find_workflow(ns, "fresh") == made
    assert again.name == "fresher" and agreed.questions == [
        "Workflow 'fresher' does not exist. Create it?"
    ]


def test_declining_offers_to_pick_another_and_fails_clearly_without_one(world: World) -> None:
    platform, ns = _platform(world), world.workflow.namespace_id
    offered: list[Sequence[str]] = []

    def pick(names: Sequence[str]) -> str | None:
        offered.append(names)
        return "hello"

    picked = resolve_workflow(
        platform,
        name="nope",
        workflow_id=None,
        namespace_id=lambda: ns,
        prompter=ScriptedPrompter(confirms=[False]),
        assume_yes=False,
        others=lambda _ns: ["hello"],
        pick=pick,
    )
    assert picked == world.workflow and offered == [["hello"]]

    with pytest.raises(InvalidInput, match="floww dev --yes"):
        resolve_workflow(
            platform,
            name="nope",
            workflow_id=None,
            namespace_id=lambda: ns,
            prompter=ScriptedPrompter(confirms=[False]),
            assume_yes=False,
        )
    assert platform.find_workflow(ns, "nope") is None
