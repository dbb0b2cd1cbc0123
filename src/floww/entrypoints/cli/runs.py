"""Execution logs, and running a manual trigger."""

from __future__ import annotations

import json
from typing import Any

import click

from floww.entrypoints.cli.executions import log_line
from floww.entrypoints.cli.listings import workflow_option
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.output import echo_json
from floww.entrypoints.cli.session import Session, current_env, session

__all__ = ["invoke", "logs"]


def _log_lines(execution: dict[str, Any]) -> list[str]:
    """The execution's log lines, then its error with the traceback (when the server sent it)."""
    lines = [log_line(execution["id"], line) for line in execution.get("logs") or []]
    error = execution.get("error")
    if error:
        lines.append(f"{execution['id']} {error.get('type')}: {error.get('message')}")
        lines += [f"    {t}" for t in (error.get("traceback") or "").rstrip().splitlines()]
    return lines


def _json_lines(execution: dict[str, Any]) -> list[str]:
    """The same as JSON Lines: one object per log line, and one for the error."""
    records: list[dict[str, Any]] = [
        {"execution_id": execution["id"], **line} for line in execution.get("logs") or []
    ]
    if execution.get("error"):
        records.append({"execution_id": execution["id"], "error": execution["error"]})
    return [json.dumps(r, sort_keys=True, default=str) for r in records]


def _print_new(s: Session, execution_ids: list[str], seen: dict[str, int], as_json: bool) -> None:
    render = _json_lines if as_json else _log_lines
    for execution_id in execution_ids:
        lines = render(s.platform.get_execution(execution_id))
        for line in lines[seen.get(execution_id, 0) :]:
            click.echo(line)
        seen[execution_id] = len(lines)


@click.command()
@click.argument("execution_id", required=False)
@workflow_option
@click.option(
    "--limit",
    type=click.IntRange(1, 200),
    default=10,
    show_default=True,
    help="How many recent executions to show without an id.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines: one object a line.")
@click.option("--interval", type=float, default=2.0, show_default=True, hidden=True)
@handle_errors()
def logs(
    execution_id: str | None,
    workflow_name: str | None,
    limit: int,
    follow: bool,
    as_json: bool,
    interval: float,
) -> None:
    """Print the log lines of an execution, or of the latest executions of the workflow; a
    failed run ends with its error and traceback.

    \b
    Examples:
      floww logs                 # the latest executions of this project's workflow
      floww logs exe_123 --follow
      floww logs --json | jq .message
    """
    env = current_env()
    s = session()
    seen: dict[str, int] = {}
    workflow_id = None if execution_id else s.workflow(workflow_name).id

    def current_ids() -> list[str]:
        if execution_id:
            return [execution_id]
        assert workflow_id is not None
        listed = s.platform.list_executions(workflow_id, limit=limit)
        return [e["id"] for e in reversed(listed)]

    _print_new(s, current_ids(), seen, as_json)
    if not follow:
        if not seen:
            click.echo("No executions yet.", err=True)
        return
    try:
        while True:
            env.sleep(interval)
            _print_new(s, current_ids(), seen, as_json)
    except KeyboardInterrupt:
        click.echo("", err=True)


@click.command()
@click.argument("name")
@click.option("--input", "input_json", default="null", help="The trigger's input, as JSON.")
@workflow_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole execution as JSON.")
@handle_errors()
def invoke(name: str, input_json: str, workflow_name: str | None, as_json: bool) -> None:
    """Run the manual trigger NAME of the active deployment and print its result.

    \b
    Example:
      floww invoke greet --input '{"name": "ada"}'
    """
    try:
        payload = json.loads(input_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            param_hint="'--input'",
        ) from None
    s = session()
    workflow = s.workflow(workflow_name)
    execution = s.platform.invoke_manual(workflow.id, name, payload)
    if as_json:
        echo_json(execution)
    else:
        for line in _log_lines(execution):
            click.echo(line, err=True)
        click.echo(json.dumps(execution.get("result"), indent=2))
    if execution.get("status") != "completed":
        raise click.exceptions.Exit(1)
