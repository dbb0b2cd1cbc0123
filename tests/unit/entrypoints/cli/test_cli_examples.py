"""The examples run as they are shipped: their floww.toml is enough for `floww deploy`."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support import EXAMPLES
from tests.unit.entrypoints.cli.conftest import World


def _copy(world: World, name: str) -> Path:
    target = world.tmp / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_hello_deploys_as_shipped_and_answers(world: World) -> None:
    world.login()
    project = _copy(world, "hello")
    result = world.run("deploy", "--yes", cwd=project)
    assert result.exit_code == 0, result.output
    (workflow,) = world.repo.list_workflows(world.namespace_id)
    assert workflow.name == "hello"
    answer = world.client.post(f"/webhook/{workflow.id}/hello/ada")
    assert answer.json() == {"message": "hi ada"}
    assert f'id = "{workflow.id}"' in (project / "floww.toml").read_text()


def test_github_to_slack_deploys_once_its_providers_are_set_up(world: World) -> None:
    world.login()
    project = _copy(world, "github_to_slack")
    missing = world.run("deploy", "--yes", cwd=project)
    assert missing.exit_code == 78 and "floww providers setup" in missing.output
    for provider in ("github", "slack:ops"):
        kind = provider.split(":")[0]
        fields = world.client.get(
            f"/api/provider-types/{kind}",
            headers={"Authorization": f"Bearer {world.auth.issue_token(world.user)}"},
        ).json()["fields"]
        values = [f"--set={f['name']}=value-{f['name']}" for f in fields]
        made = world.run("providers", "setup", provider, *values)
        assert made.exit_code == 0, made.output
    result = world.run("deploy", "--yes", cwd=project)
    assert result.exit_code == 0, result.output
    assert [w.name for w in world.repo.list_workflows(world.namespace_id)] == ["github-to-slack"]
