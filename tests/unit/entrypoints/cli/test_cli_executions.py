"""executions list (filters, across a namespace), executions show, logs with tracebacks and
JSON Lines, the bare groups that list, and --json on every data command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import click
import pytest

from floww.entrypoints.cli.executions import parse_since
from tests.unit.entrypoints.cli.conftest import World, hello_project

FAILING = """
from floww import Builtin

builtin = Builtin()


@builtin.manual("boom")
def boom(ctx, event):
    ctx.log.warning("about to fail")
    raise RuntimeError("kaboom")
"""


def _json(world: World, *args: str, cwd: Path | None = None) -> Any:
    result = world.run(*args, cwd=cwd)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _serve_api_keys(world: World) -> None:
    """As the composition root does when the auth provider manages keys."""
    app: Any = world.client.app
    services = app.state.services
    app.state.services = attrs.evolve(
        services, deps=attrs.evolve(services.deps, api_keys=world.auth)
    )


def _deployed(world: World) -> tuple[Path, str]:
    _serve_api_keys(world)
    world.login()
    project = hello_project(world)
    assert world.run("deploy", "--yes", cwd=project).exit_code == 0, "deploy failed"
    (workflow,) = world.repo.list_workflows(world.namespace_id)
    return project, workflow.id


def test_show_prints_event_result_logs_and_timings_without_the_lease(world: World) -> None:
    project, workflow_id = _deployed(world)
    world.client.post(f"/webhook/{workflow_id}/hello/grace")
    (listed,) = _json(world, "executions", "list", "--json", cwd=project)
    assert "owner" not in listed and "lease_expires_at" not in listed

    shown = world.run("executions", "show", listed["id"])
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    for expected in (
        f"Execution {listed['id']}",
        "webhook POST /hello/{name}",
        "received",
        "finished",
        "duration",
        '"name": "grace"',  # the event's path params
        '"message": "hi grace"',  # the result
        "saying hi to grace",  # a log line
    ):
        assert expected in out, expected
    assert "owner" not in out and "lease" not in out

    doc = _json(world, "executions", "show", listed["id"], "--json")
    assert doc["result"] == {"message": "hi grace"}
    assert doc["trigger"] == "webhook POST /hello/{name}"
    assert {"owner", "lease_expires_at"}.isdisjoint(doc)

    missing = world.run("executions", "show", "exe_nope")
    assert missing.exit_code != 0 and "Traceback" not in missing.output
    assert "exe_nope" in missing.output


def test_a_failed_run_shows_its_traceback_in_show_and_logs(world: World) -> None:
    project, _ = _deployed(world)
    (project / "main.py").write_text(FAILING)
    assert world.run("deploy", "--yes", cwd=project).exit_code == 0
    failed = world.run("invoke", "boom", cwd=project)
    assert failed.exit_code == 1
    (entry,) = _json(world, "executions", "list", "--json", "--status", "failed", cwd=project)

    shown = world.run("executions", "show", entry["id"]).stdout
    assert "RuntimeError: kaboom" in shown and "Traceback" in shown
    assert 'raise RuntimeError("kaboom")' in shown

    logs = world.run("logs", entry["id"])
    assert logs.exit_code == 0, logs.output
    assert "about to fail" in logs.stdout and "RuntimeError: kaboom" in logs.stdout
    assert "Traceback" in logs.stdout and 'raise RuntimeError("kaboom")' in logs.stdout

    records = [
        json.loads(line) for line in world.run("logs", "--json", cwd=project).stdout.splitlines()
    ]
    warning = next(r for r in records if r.get("message") == "about to fail")
    assert warning["execution_id"] == entry["id"] and warning["level"] == "warning"
    error = next(r for r in records if "error" in r)
    assert error["error"]["type"] == "RuntimeError" and "Traceback" in error["error"]["traceback"]


def test_list_filters_by_status_trigger_and_time(world: World) -> None:
    project, workflow_id = _deployed(world)
    world.client.post(f"/webhook/{workflow_id}/hello/a")
    assert world.run("invoke", "greet", cwd=project).exit_code == 0
    everything = _json(world, "executions", "list", "--json", cwd=project)
    assert len(everything) == 2
    manual = next(e for e in everything if e["trigger"] == "manual greet")

    only = _json(
        world, "executions", "list", "--json", "--trigger", manual["trigger_id"], cwd=project
    )
    assert [e["id"] for e in only] == [manual["id"]]
    # the world's clock is 2026-01-01; the runs were received at it
    assert len(_json(world, "executions", "list", "--json", "--since", "1h", cwd=project)) == 2
    future = _json(
        world, "executions", "list", "--json", "--since", "2030-01-01T00:00Z", cwd=project
    )
    assert future == []
    assert (
        "No executions match."
        in world.run("executions", "list", "--since", "2030-01-01T00:00Z", cwd=project).stdout
    )
    bad = world.run("executions", "list", "--since", "yesterday", cwd=project)
    assert bad.exit_code == 2 and "neither a duration" in bad.output
    unknown = world.run("executions", "list", "--status", "bogus", cwd=project)
    assert unknown.exit_code != 0 and "unknown status 'bogus'" in unknown.output

    table = world.run("executions", "list", cwd=project).stdout
    assert "manual greet" in table and "webhook POST /hello/{name}" in table


def test_list_across_the_namespace(world: World) -> None:
    _, workflow_id = _deployed(world)
    other = hello_project(world, "other")
    assert world.run("deploy", "--yes", cwd=other).exit_code == 0
    other_id = next(
        w.id for w in world.repo.list_workflows(world.namespace_id) if w.name == "other"
    )
    world.client.post(f"/webhook/{workflow_id}/hello/a")
    world.client.post(f"/webhook/{other_id}/hello/b")

    across = _json(world, "executions", "list", "--all-workflows", "--json", cwd=world.tmp)
    assert {e["workflow_id"] for e in across} == {workflow_id, other_id}
    by_name = _json(world, "executions", "list", "--namespace", "default", "--json")
    assert [e["id"] for e in by_name] == [e["id"] for e in across]
    table = world.run("executions", "list", "--all-workflows", cwd=world.tmp).stdout
    assert "WORKFLOW" in table and "other" in table and "hello" in table
    mixed = world.run("executions", "list", "--all-workflows", "-w", "hello")
    assert mixed.exit_code == 2 and "one workflow" in mixed.output
    elsewhere = world.run("executions", "list", "--namespace", "nowhere")
    assert elsewhere.exit_code != 0 and "Traceback" not in elsewhere.output


def test_bare_groups_list(world: World) -> None:
    project, workflow_id = _deployed(world)
    world.client.post(f"/webhook/{workflow_id}/hello/a")
    bare = world.run("executions", cwd=project)
    assert bare.exit_code == 0, bare.output
    assert "webhook POST /hello/{name}" in bare.stdout and "Usage" not in bare.output
    providers = world.run("providers")
    assert providers.exit_code == 0 and "Usage" not in providers.output
    keys = world.run("api-keys")
    assert keys.exit_code == 0 and "Usage" not in keys.output, keys.output
    listed = world.run("workflows")
    assert listed.exit_code == 0 and "hello" in listed.stdout, listed.output
    history = world.run("deployments", cwd=project)
    assert history.exit_code == 0 and "active" in history.stdout, history.output
    members = world.run("namespace", "members")
    assert members.exit_code == 0 and "owner" in members.stdout, members.output


@pytest.mark.parametrize(
    "args",
    [
        ("workflows", "list"),
        ("deployments", "list", "-w", "hello"),
        ("executions", "list", "-w", "hello"),
        ("executions", "list", "--all-workflows"),
        ("providers", "list"),
        ("namespace", "show"),
        ("api-keys", "list"),
        ("whoami",),
        ("config", "list"),
    ],
)
def test_every_data_command_prints_json(world: World, args: tuple[str, ...]) -> None:
    _deployed(world)
    doc = _json(world, *args, "--json")
    assert isinstance(doc, (dict, list))


def test_logs_json_is_one_object_a_line(world: World) -> None:
    project, workflow_id = _deployed(world)
    world.client.post(f"/webhook/{workflow_id}/hello/ada")
    lines = world.run("logs", "--json", cwd=project).stdout.splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    assert any(json.loads(line)["message"] == "saying hi to ada" for line in lines)


NOW = datetime(2026, 1, 31, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("1h", NOW - timedelta(hours=1)),
        (" 2D ", NOW - timedelta(days=2)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-01-30T08:00:00+00:00", datetime(2026, 1, 30, 8, tzinfo=UTC)),
        ("2026-01-30T08:00Z", datetime(2026, 1, 30, 8, tzinfo=UTC)),
    ],
)
def test_since_reads_durations_and_iso_times(raw: str, expected: datetime) -> None:
    assert parse_since(raw, NOW) == expected


def test_since_without_an_offset_is_local_time() -> None:
    parsed = parse_since("2026-01-30T08:00", NOW)
    assert parsed.tzinfo is not None
    assert parsed.replace(tzinfo=None) == datetime(2026, 1, 30, 8)


@pytest.mark.parametrize("raw", ["yesterday", "1y", "-1h", ""])
def test_since_refuses_anything_else(raw: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_since(raw, NOW)
