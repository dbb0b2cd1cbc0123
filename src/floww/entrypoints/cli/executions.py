"""``floww executions``: list a workflow's or a namespace's executions, show one in full,
rerun one on the active deployment, cancel one, or replay one against the local code."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from floww.codec import unstructure
from floww.domain.model import ExecutionContext, Invocation
from floww.entrypoints.cli.listings import workflow_option
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option, listing_group
from floww.entrypoints.cli.output import echo_json, echo_table
from floww.entrypoints.cli.project import find_project
from floww.entrypoints.cli.session import current_env, session
from floww.sdk import wire
from floww.sdk.bundle import bundle_from_directory

__all__ = ["executions", "parse_since"]

_AGO = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(raw: str, now: datetime) -> datetime:
    """``1h``, ``30m``, ``2d`` (that long before ``now``) or an ISO-8601 time; one without an
    offset is in the local time zone. ``click.BadParameter`` for anything else."""
    ago = _AGO.match(raw.strip().lower())
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise click.BadParameter(
            f"{raw!r} is neither a duration (30m, 1h, 2d, 1w) nor an ISO time (2026-01-31T09:00)",
            param_hint="'--since'",
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _duration(execution: dict[str, Any]) -> str:
    duration = execution.get("duration_ms")
    return f"{duration:.0f}ms" if duration is not None else ""


@listing_group()
def executions() -> None:
    """The executions of a workflow or a namespace. Alone: the latest of this project's
    workflow."""


@executions.command("list")
@workflow_option
@click.option(
    "--namespace",
    "namespace_name",
    default=None,
    help="List across every workflow of this namespace.",
)
@click.option(
    "--all-workflows", is_flag=True, help="List across every workflow of the current namespace."
)
@click.option("--status", default=None, help="Only executions in this status (e.g. failed).")
@click.option(
    "--trigger", "trigger_id", default=None, help="Only this trigger's (its id: see --json)."
)
@click.option(
    "--since", default=None, help="Only those received since: 1h, 30m, 2d or an ISO time."
)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@json_option
@handle_errors()
def executions_list(
    workflow_name: str | None,
    namespace_name: str | None,
    all_workflows: bool,
    status: str | None,
    trigger_id: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List executions, newest first: a workflow's, or a namespace's.

    \b
    Examples:
      floww executions list --status failed --since 1h
      floww executions list --all-workflows --limit 50
    """
    s = session()
    now = datetime.fromtimestamp(current_env().now(), UTC)
    after = parse_since(since, now).isoformat() if since else None
    across = all_workflows or namespace_name is not None
    if across and (workflow_name or trigger_id):
        raise click.UsageError("--workflow and --trigger list one workflow's executions")
    if across:
        ns = s.namespace(namespace_name)
        found = s.platform.list_namespace_executions(
            str(ns["id"]), status=status, limit=limit, since=after
        )
        names = {w["id"]: w["name"] for w in s.platform.list_workflows(str(ns["id"]))}
    else:
        workflow = s.workflow(workflow_name)
        found = s.platform.list_executions(
            workflow.id, status=status, limit=limit, since=after, trigger_id=trigger_id
        )
        names = {workflow.id: workflow.name}
    if as_json:
        echo_json(found)
        return
    rows = [
        (
            e["id"],
            *((names.get(e["workflow_id"], e["workflow_id"]),) if across else ()),
            e.get("trigger") or "(removed trigger)",
            e["status"],
            e.get("received_at", ""),
            _duration(e),
        )
        for e in found
    ]
    headers = (
        "ID",
        *(("WORKFLOW",) if across else ()),
        "TRIGGER",
        "STATUS",
        "RECEIVED",
        "DURATION",
    )
    echo_table(
        rows, headers, "No executions yet." if not (status or since) else "No executions match."
    )


@executions.command("show")
@click.argument("execution_id")
@json_option
@handle_errors()
def executions_show(execution_id: str, as_json: bool) -> None:
    """Show one execution: event, result, logs, error with its traceback, timings.

    \b
    Example:
      floww executions show exe_123
    """
    execution = session().platform.get_execution(execution_id)
    if as_json:
        echo_json(execution)
        return
    for line in render_execution(execution):
        click.echo(line)


def render_execution(e: dict[str, Any]) -> list[str]:
    """The execution as a person reads it, section by section."""
    facts = [
        ("status", e.get("status")),
        ("workflow", e.get("workflow_id")),
        ("trigger", e.get("trigger") or f"{e.get('trigger_id')} (removed)"),
        ("deployment", e.get("deployment_id") or "(none)"),
        ("triggered by", e.get("triggered_by")),
        ("attempt", _attempt(e)),
        ("received", e.get("received_at")),
        ("started", e.get("started_at")),
        ("finished", e.get("finished_at")),
        ("duration", _duration(e)),
    ]
    lines = [click.style(f"Execution {e['id']}", bold=True)]
    lines += [f"  {name:<13}{value}" for name, value in facts if value]
    lines += ["", click.style("Event", bold=True), *_indented(_pretty(e.get("event")))]
    if e.get("status") == "completed":
        lines += ["", click.style("Result", bold=True), *_indented(_pretty(e.get("result")))]
    lines += ["", click.style("Logs", bold=True)]
    lines += _indented(
        "\n".join(log_line(e["id"], line, prefix=False) for line in e.get("logs") or [])
    )
    if not e.get("logs"):
        lines.append("  (none)")
    error = e.get("error")
    if error:
        lines += [
            "",
            click.style("Error", bold=True),
            f"  {error.get('type')}: {error.get('message')}",
        ]
        lines += _indented((error.get("traceback") or "").rstrip())
    return lines


def _attempt(e: dict[str, Any]) -> str:
    attempt = e.get("attempt") or 1
    if attempt == 1:
        return ""
    return f"{attempt} (retry of {e.get('retry_of')}, after {e.get('retry_delay_s')}s)"


@executions.command("rerun")
@click.argument("execution_id")
@click.option("--wait", is_flag=True, help="Wait for the new run and show it.")
@json_option
@handle_errors()
def executions_rerun(execution_id: str, wait: bool, as_json: bool) -> None:
    """Run a recorded execution's event again, on the workflow's active deployment.

    \b
    Example:
      floww executions rerun exe_123 --wait
    """
    s = session()
    execution = s.api.post(f"/api/executions/{execution_id}/rerun")
    if wait:
        execution = _wait_final(s.platform.get_execution, str(execution["id"]))
    if as_json:
        echo_json(execution)
        return
    if not wait:
        click.echo(f"Queued {execution['id']} (rerun of {execution_id}).")
        click.echo(f"See it with: floww executions show {execution['id']}")
        return
    for line in render_execution(execution):
        click.echo(line)


@executions.command("cancel")
@click.argument("execution_id")
@json_option
@handle_errors()
def executions_cancel(execution_id: str, as_json: bool) -> None:
    """Stop an execution that has not finished (queued, waiting to retry, or running).

    \b
    Example:
      floww executions cancel exe_123
    """
    execution = session().api.post(f"/api/executions/{execution_id}/cancel")
    if as_json:
        echo_json(execution)
        return
    click.echo(f"Cancelled {execution['id']}.")


@executions.command("replay")
@click.argument("execution_id")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    help="The project whose local code runs the event (default: this directory).",
)
@json_option
@handle_errors()
def executions_replay(execution_id: str, project_dir: Path, as_json: bool) -> None:
    """Run a recorded event (a production one, say) against your local code: the same
    trigger's handler as your project's code declares it now, on this machine. Nothing is
    recorded on the server; the handler's own calls (KV, provider actions) are real.

    \b
    Example:
      floww executions replay exe_123
    """
    s = session()
    project = find_project(project_dir.resolve())
    recorded = s.platform.get_execution(execution_id)
    spec = wire.spec_from_wire(s.api.get(f"/api/executions/{execution_id}/trigger")["trigger"])
    workflow = s.platform.get_workflow(str(recorded["workflow_id"]))
    providers = s.platform.provider_configs(workflow.namespace_id)
    runner = current_env().adapters.runner()
    code = bundle_from_directory(project.root, project.entrypoint)
    local = next(
        (t for t in runner.load(code, providers).triggers if t.identity == spec.identity), None
    )
    if local is None:
        raise click.ClickException(
            f"your local code declares no trigger like the one execution {execution_id} ran "
            f"({spec.provider.type}.{spec.trigger_type} {dict(spec.input)}); declare it, "
            "then replay"
        )
    context = ExecutionContext(
        id=f"replay-{execution_id}",
        token=s.platform.dev_token(workflow.id),
        api_url=s.server,
        deadline_ms=int(_REPLAY_DEADLINE_S * 1000),
        workflow_id=workflow.id,
    )
    event = dict(recorded.get("event") or {})
    result = runner.invoke(Invocation(code, local, event, providers, context))
    doc = unstructure(result)
    if as_json:
        echo_json({"replayed": execution_id, **doc})
    else:
        click.echo(
            f"Replayed {execution_id} on {project.entrypoint}: {'ok' if result.ok else 'failed'}"
        )
        for line in doc.get("logs") or []:
            click.echo(f"  {log_line('replay', line, prefix=False)}")
        if result.ok:
            click.echo(_pretty(result.result))
        elif result.error is not None:
            click.echo(f"{result.error.type}: {result.error.message}", err=True)
            if result.error.traceback:
                click.echo(result.error.traceback.rstrip(), err=True)
    if not result.ok:
        raise SystemExit(1)


_REPLAY_DEADLINE_S = 60.0
_FINAL = {"completed", "failed", "timed_out", "no_deployment", "interrupted", "cancelled"}


def _wait_final(get: Any, execution_id: str, timeout_s: float = 300.0) -> dict[str, Any]:
    env = current_env()
    until = env.now() + timeout_s
    while True:
        execution: dict[str, Any] = get(execution_id)
        if execution.get("status") in _FINAL or env.now() >= until:
            return execution
        env.sleep(0.5)


def log_line(execution_id: str, line: dict[str, Any], *, prefix: bool = True) -> str:
    """One log line: time, (execution id,) level, message, then its fields as key=value."""
    fields = line.get("fields") or {}
    extra = " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
    head = f"{line.get('at', '')} {execution_id + ' ' if prefix else ''}"
    text = f"{head}{line.get('level', 'info').upper():<7} {line.get('message', '')}"
    return f"{text}{'  ' + extra if extra else ''}"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _indented(text: str) -> list[str]:
    return [f"  {line}" for line in text.splitlines()]
