"""Read-only listings: executions (``floww workflows`` and ``floww deployments`` have
their own modules)."""

from __future__ import annotations

import click

from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option
from floww.entrypoints.cli.output import echo_json, echo_table
from floww.entrypoints.cli.session import session

__all__ = ["executions", "workflow_option"]

workflow_option = click.option(
    "--workflow",
    "-w",
    "workflow_name",
    default=None,
    help="Workflow name [default: the one of the project in this directory].",
)


@click.group()
def executions() -> None:
    """The executions of a workflow."""


@executions.command("list")
@workflow_option
@click.option("--status", default=None, help="Only executions in this status (e.g. failed).")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@json_option
@handle_errors()
def executions_list(
    workflow_name: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    """List a workflow's executions, newest first.

    \b
    Example:
      floww executions list --status failed --limit 5
    """
    s = session()
    workflow = s.workflow(workflow_name)
    found = s.platform.list_executions(workflow.id, status=status, limit=limit)
    if as_json:
        echo_json(found)
        return
    rows = [
        (
            e["id"],
            e.get("trigger") or "(removed trigger)",
            e["status"],
            e.get("received_at", ""),
            f"{e['duration_ms']:.0f}ms" if e.get("duration_ms") is not None else "",
        )
        for e in found
    ]
    echo_table(rows, ("ID", "TRIGGER", "STATUS", "RECEIVED", "DURATION"), "No executions yet.")
