"""Read-only listings: workflows and deployments (executions: ``executions``)."""

from __future__ import annotations

import click

from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option
from floww.entrypoints.cli.output import echo_json, echo_table
from floww.entrypoints.cli.session import session

__all__ = ["deployments", "workflow_option", "workflows"]

workflow_option = click.option(
    "--workflow",
    "-w",
    "workflow_name",
    default=None,
    help="Workflow name [default: the one of the project in this directory].",
)


@click.group()
def workflows() -> None:
    """The workflows of the current namespace."""


@workflows.command("list")
@click.option("--namespace", "namespace_name", default=None, help="Namespace [default: current].")
@json_option
@handle_errors()
def workflows_list(namespace_name: str | None, as_json: bool) -> None:
    """List the namespace's workflows.

    \b
    Example:
      floww workflows list --json
    """
    s = session()
    ns = s.namespace(namespace_name)
    found = s.platform.list_workflows(str(ns["id"]))
    if as_json:
        echo_json(found)
        return
    rows = [(w["name"], w["id"], w.get("created_at", "")) for w in found]
    echo_table(rows, ("NAME", "ID", "CREATED"), f"No workflows in {ns['name']}; run `floww init`.")


@click.group()
def deployments() -> None:
    """The deployments of a workflow."""


@deployments.command("list")
@workflow_option
@json_option
@handle_errors()
def deployments_list(workflow_name: str | None, as_json: bool) -> None:
    """List a workflow's deployments, newest first.

    \b
    Example:
      floww deployments list -w hello
    """
    s = session()
    workflow = s.workflow(workflow_name)
    found = s.platform.list_deployments(workflow.id)
    if as_json:
        echo_json(found)
        return
    rows = [
        (d["id"], d["status"], len(d.get("triggers", [])), d.get("created_at") or "") for d in found
    ]
    echo_table(rows, ("ID", "STATUS", "TRIGGERS", "CREATED"), "No deployments; run `floww deploy`.")
