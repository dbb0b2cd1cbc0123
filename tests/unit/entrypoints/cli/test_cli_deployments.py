"""`floww deployments list / rollback / deactivate` and `floww workflows delete` against the
in-process server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.unit.entrypoints.cli.conftest import World, hello_project


def _greeting(world: World, workflow_id: str) -> tuple[int, Any]:
    answer = world.client.post(f"/webhook/{workflow_id}/hello/grace")
    return answer.status_code, answer.json()


def _deployed_twice(world: World) -> tuple[Path, str]:
    world.login()
    project = hello_project(world)
    assert world.run("deploy", "--yes", cwd=project).exit_code == 0
    main = project / "main.py"
    main.write_text(main.read_text().replace('f"hi {name}"', 'f"v2 says hi {name}"'))
    second = world.run("deploy", "--yes", cwd=project)
    assert second.exit_code == 0, second.output
    (workflow,) = world.repo.list_workflows(world.namespace_id)
    assert _greeting(world, workflow.id) == (200, {"message": "v2 says hi grace"})
    return project, workflow.id


def test_list_shows_the_history(world: World) -> None:
    project, _ = _deployed_twice(world)
    table = world.run("deployments", "list", cwd=project)
    assert table.exit_code == 0, table.output
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "CODE", "IMAGE", "TRIGGERS", "BY", "CREATED"]
    assert [r.split()[1] for r in rows] == ["active", "inactive"]
    assert all("ada@example.com" in r for r in rows)
    listed = json.loads(world.run("deployments", "list", "--json", cwd=project).stdout)
    assert len({d["code"]["digest"] for d in listed}) == 2
    assert len({d["image_ref"] for d in listed}) == 1


def test_rollback_answers_with_the_earlier_code_without_a_build(world: World) -> None:
    project, workflow_id = _deployed_twice(world)
    builds, manifests = world.builder.builds, world.manifests()
    history = [d.id for d in world.repo.list_deployments(workflow_id)]

    rolled = world.run("deployments", "rollback", cwd=project)
    assert rolled.exit_code == 0, rolled.output
    assert f"Deployment {history[1]}" in rolled.stdout and "active again" in rolled.stdout
    assert _greeting(world, workflow_id) == (200, {"message": "hi grace"})
    assert (world.builder.builds, world.manifests()) == (builds, manifests)

    forward = world.run("deployments", "rollback", history[0], "--json", "-w", "hello")
    assert forward.exit_code == 0, forward.output
    assert json.loads(forward.stdout)["deployment"]["id"] == history[0]
    assert _greeting(world, workflow_id) == (200, {"message": "v2 says hi grace"})

    unknown = world.run("deployments", "rollback", "dep_nothing", cwd=project)
    assert unknown.exit_code != 0 and "dep_nothing" in unknown.output
    assert "Traceback" not in unknown.output


def test_deactivate_leaves_the_workflow_dev_only(world: World) -> None:
    project, workflow_id = _deployed_twice(world)
    gone = world.run("deployments", "deactivate", cwd=project)
    assert gone.exit_code == 0, gone.output
    assert "dev-only" in gone.stdout
    assert world.client.post(f"/webhook/{workflow_id}/hello/grace").status_code == 404
    again = world.run("deployments", "deactivate", "--json", cwd=project)
    assert again.exit_code == 0 and json.loads(again.stdout) == {"deactivated": None}
    # a named deployment can be made active again
    back = world.run("deployments", "rollback", cwd=project)
    assert back.exit_code != 0 and "no active deployment" in back.output
    newest = world.repo.list_deployments(workflow_id)[0].id
    assert world.run("deployments", "rollback", newest, cwd=project).exit_code == 0
    assert _greeting(world, workflow_id) == (200, {"message": "v2 says hi grace"})


def test_workflows_delete_asks_then_removes_everything(world: World) -> None:
    _, workflow_id = _deployed_twice(world)
    refused = world.run("workflows", "delete", "hello")
    assert refused.exit_code != 0 and "--yes" in refused.output
    world.interactive = True
    kept = world.run("workflows", "delete", "hello", input="n\n")
    assert kept.exit_code != 0 and "not deleted" in kept.output
    assert world.repo.get_workflow(workflow_id).name == "hello"
    missing = world.run("workflows", "delete", "nothing-here", "--yes")
    assert missing.exit_code != 0 and "nothing-here" in missing.output

    deleted = world.run("workflows", "delete", workflow_id, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert world.client.post(f"/webhook/{workflow_id}/hello/grace").status_code == 404
    assert world.repo.list_workflows(world.namespace_id) == []
    assert world.repo.list_deployments(workflow_id) == []
    assert world.repo.list_executions(workflow_id) == []
    assert world.run("workflows", "list", "--json").stdout.strip() == "[]"
