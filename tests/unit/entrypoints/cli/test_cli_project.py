"""init, deploy (plan, json, reuse of the image), listings, logs, invoke and providers."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from floww.domain.usecases.deploy import runtime_repository
from tests.unit.entrypoints.cli.conftest import World, hello_project


def _json(world: World, *args: str, cwd: Path | None = None) -> Any:
    result = world.run(*args, cwd=cwd)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_init_scaffolds_and_creates_the_workflow(world: World) -> None:
    world.login()
    directory = world.tmp / "proj"
    result = world.run("init", str(directory), "--name", "greeter", "--yes")
    assert result.exit_code == 0, result.output
    assert {p.name for p in directory.iterdir()} == {
        "main.py",
        "floww.toml",
        "requirements.txt",
        ".gitignore",
    }
    doc = tomllib.loads((directory / "floww.toml").read_text())
    (workflow,) = world.repo.list_workflows(world.namespace_id)
    assert doc["workflow"] == {
        "name": "greeter",
        "namespace": "default",
        "id": workflow.id,
        "entrypoint": "main.py",
        "requirements": "requirements.txt",
    }
    # a second init refuses to overwrite, and --force picks the existing workflow
    again = world.run("init", str(directory), "--name", "greeter", "--yes")
    assert again.exit_code == 73
    assert "--force" in again.output
    forced = world.run("init", str(directory), "--name", "greeter", "--yes", "--force")
    assert forced.exit_code == 0 and "existing workflow" in forced.output
    assert len(world.repo.list_workflows(world.namespace_id)) == 1


def test_the_scaffolded_project_deploys_and_answers(world: World) -> None:
    world.login()
    directory = world.tmp / "fresh"
    assert world.run("init", str(directory), "--yes").exit_code == 0
    doc = _json(world, "deploy", "--yes", "--json", cwd=directory)
    assert isinstance(doc, dict)
    ((method, url),) = [u.split(" ", 1) for u in doc["webhook_urls"]]
    assert method == "POST"
    answer = world.client.post(url.removeprefix("http://floww.test"), json={"name": "ada"})
    assert answer.json() == {"message": "hi ada"}


def test_deploy_builds_once_then_reuses_the_image(world: World) -> None:
    world.login()
    project = hello_project(world)
    first = world.run("deploy", "--yes", "--json", cwd=project)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert (doc["built"], doc["uploaded"], doc["runtime_created"]) == (True, True, True)
    assert "Building runtime image" in first.stderr and "done (" in first.stderr
    repository = runtime_repository(world.namespace_id)
    assert world.registry.exists(repository, doc["image_ref"].split(":")[1])
    files_before = world.manifests()
    hook = next(u for u in doc["webhook_urls"] if "/hello/" in u).split(" ", 1)[1]
    answer = world.client.post(hook.replace("{name}", "ada").removeprefix("http://floww.test"))
    assert answer.json() == {"message": "hi ada"}

    second = json.loads(world.run("deploy", "--yes", "--json", cwd=project).stdout)
    assert (second["built"], second["uploaded"], second["runtime_created"]) == (False,) * 3
    assert world.builder.builds == 1
    assert world.manifests() == files_before
    assert len(world.repo.list_deployments(doc["workflow"]["id"])) == 2


def test_deploy_prints_webhook_urls(world: World) -> None:
    world.login()
    project = hello_project(world)
    result = world.run("deploy", "--yes", cwd=project)
    assert result.exit_code == 0, result.output
    assert "Webhooks:" in result.stdout
    assert "http://floww.test/webhook/" in result.stdout


def test_plan_shows_the_trigger_diff_and_changes_nothing(world: World) -> None:
    world.login()
    project = hello_project(world)
    assert world.run("deploy", "--yes", cwd=project).exit_code == 0
    main = project / "main.py"
    main.write_text(
        main.read_text().replace('@builtin.manual("greet")', '@builtin.manual("welcome")')
    )
    workflow_id = tomllib.loads((project / "floww.toml").read_text())["workflow"]["id"]
    deployments = world.repo.list_deployments(workflow_id)
    result = world.run("deploy", "--plan", cwd=project)
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "+ manual welcome" in lines
    assert "- manual greet" in lines
    assert "= webhook POST /hello/{name}" in lines
    assert [line for line in lines if line[:2] in ("+ ", "- ")] == [
        "+ manual welcome",
        "- manual greet",
    ]
    assert world.repo.list_deployments(workflow_id) == deployments
    planned = _json(world, "deploy", "--plan", "--json", cwd=project)
    assert planned == {
        "workflow": planned["workflow"],
        "plan": True,
        "diff": {
            "added": ["manual welcome"],
            "removed": ["manual greet"],
            "kept": ["webhook POST /hello/{name}", "cron '*/5 * * * *'"],
        },
    }


def test_a_stale_workflow_id_falls_back_to_the_name_and_is_rewritten(world: World) -> None:
    world.login()
    project = hello_project(world)
    text = (project / "floww.toml").read_text()
    recorded = text.split('id = "', 1)[1].split('"', 1)[0]
    (project / "floww.toml").write_text(text.replace(f'id = "{recorded}', 'id = "wf_gone'))
    result = world.run("deploy", "--yes", cwd=project)
    assert result.exit_code == 0, result.output
    assert "wf_gone of floww.toml no longer exists" in result.output
    assert f'id = "{recorded}"' in (project / "floww.toml").read_text()


def test_unknown_workflow_says_to_run_init(world: World) -> None:
    world.login()
    nowhere = world.run("executions", "list", cwd=world.tmp)
    assert nowhere.exit_code == 66
    assert "floww.toml" in nowhere.output and "run `floww init`" in nowhere.output


def test_a_dockerfile_without_a_daemon_is_explained(world: World) -> None:
    world.login()
    project = hello_project(world)
    (project / "Dockerfile").write_text("FROM python:3.12\n")
    result = world.run("deploy", "--yes", cwd=project)
    assert result.exit_code == 69
    assert "no Docker daemon is reachable" in result.output
    assert "remove the Dockerfile" in result.output


def test_code_that_does_not_load_points_at_the_line(world: World) -> None:
    world.login()
    project = hello_project(world)
    (project / "main.py").write_text("x = 1\ndef broken(:\n")
    result = world.run("deploy", "--yes", cwd=project)
    assert result.exit_code == 65
    assert "main.py:2" in result.output


def test_missing_provider_with_yes_names_it_and_the_fix(world: World) -> None:
    world.login()
    project = hello_project(world)
    (project / "main.py").write_text(
        "from floww import Builtin, Slack\nbuiltin = Builtin()\nslack = Slack('ops')\n"
        "@builtin.manual('go')\ndef go(ctx, event):\n    return 1\n"
    )
    result = world.run("deploy", "--yes", cwd=project)
    assert result.exit_code == 78
    assert "slack:ops" in result.output
    assert "floww providers setup" in result.output


def test_listings_logs_and_invoke(world: World) -> None:
    world.login()
    project = hello_project(world)
    assert world.run("deploy", "--yes", cwd=project).exit_code == 0
    workflows = _json(world, "workflows", "list", "--json")
    assert [w["name"] for w in workflows] == ["hello"]
    deployments = _json(world, "deployments", "list", "--json", cwd=project)
    assert [d["status"] for d in deployments] == ["active"]

    invoked = world.run("invoke", "greet", "--input", '{"name": "ada"}', cwd=project)
    assert invoked.exit_code == 0, invoked.output
    assert json.loads(invoked.stdout) == {"greeting": "hello, ada"}
    bad = world.run("invoke", "greet", "--input", "{nope", cwd=project)
    assert bad.exit_code == 2
    assert "not JSON" in bad.output

    world.client.post(f"/webhook/{workflows[0]['id']}/hello/grace")
    listed = _json(world, "executions", "list", "--json", "--limit", "5", cwd=project)
    assert len(listed) == 2
    failed = _json(world, "executions", "list", "--json", "--status", "failed", cwd=project)
    assert failed == []
    logs = world.run("logs", cwd=project)
    assert logs.exit_code == 0, logs.output
    assert "saying hi to grace" in logs.stdout
    one = world.run("logs", listed[0]["id"], "-w", "hello")
    assert one.exit_code == 0 and "saying hi to grace" in one.stdout


def test_providers_setup_list_remove(world: World) -> None:
    world.login()
    fields = world.client.get(
        "/api/provider-types/slack",
        headers={"Authorization": f"Bearer {world.auth.issue_token(world.user)}"},
    ).json()["fields"]
    values = [f"--set={f['name']}=value-{f['name']}" for f in fields]
    made = world.run("providers", "setup", "slack:ops", *values)
    assert made.exit_code == 0, made.output
    (stored,) = world.repo.list_providers(world.namespace_id)
    assert stored.ref.key == "slack:ops"
    assert stored.config == {f["name"]: f"value-{f['name']}" for f in fields}
    listed = _json(world, "providers", "list", "--json")
    assert [(p["type"], p["alias"]) for p in listed] == [("slack", "ops")]
    for field in fields:
        if field["secret"]:
            assert f"value-{field['name']}" not in json.dumps(listed)
    bad = world.run("providers", "setup", "slack", "--set", "nope=1")
    assert bad.exit_code == 64 and "no field nope" in bad.output
    removed = world.run("providers", "remove", "slack:ops")
    assert removed.exit_code == 0
    assert world.repo.list_providers(world.namespace_id) == []


def test_providers_setup_prompts_with_secret_fields_hidden(world: World) -> None:
    world.login()
    world.interactive = True
    fields = world.client.get(
        "/api/provider-types/slack",
        headers={"Authorization": f"Bearer {world.auth.issue_token(world.user)}"},
    ).json()["fields"]
    answers = "".join(f"answer-{f['name']}\n" for f in fields)
    result = world.run("providers", "setup", "slack", input=answers)
    assert result.exit_code == 0, result.output
    (stored,) = world.repo.list_providers(world.namespace_id)
    assert stored.config == {f["name"]: f"answer-{f['name']}" for f in fields}
    for field in fields:  # hidden input is not echoed back
        shown = f"answer-{field['name']}" in result.output
        assert shown is not field["secret"]


def test_a_secret_is_set_up_with_the_fields_its_code_declares(world: World) -> None:
    world.login()
    empty = world.run("providers", "setup", "secret:stripe")
    assert empty.exit_code == 64 and "--set NAME=VALUE" in empty.output
    made = world.run("providers", "setup", "secret:stripe", "--set", "api_key=sk_test_1")
    assert made.exit_code == 0, made.output
    (stored,) = world.repo.list_providers(world.namespace_id)
    assert (stored.ref.key, stored.config) == ("secret:stripe", {"api_key": "sk_test_1"})
    assert "sk_test_1" not in world.run("providers", "list", "--json").output
