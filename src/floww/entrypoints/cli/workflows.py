"""``floww workflows``: list and delete the workflows of a namespace."""

from __future__ import annotations

import click

from floww.domain.errors import InvalidInput, NotFound
from floww.domain.model import Workflow
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option, listing_group
from floww.entrypoints.cli.output import echo_json, echo_table
from floww.entrypoints.cli.session import Session, current_env, session

__all__ = ["workflows"]


@listing_group()
def workflows() -> None:
    """The workflows of the current namespace. Alone: the list."""


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


def _named(s: Session, namespace_name: str | None, name_or_id: str) -> Workflow:
    ns = s.namespace(namespace_name)
    found = s.platform.find_workflow(str(ns["id"]), name_or_id)
    if found is not None:
        return found
    try:
        by_id = s.platform.get_workflow(name_or_id)
    except NotFound:
        raise NotFound("workflow", name_or_id) from None
    if by_id.namespace_id != ns["id"]:
        raise NotFound("workflow", name_or_id)
    return by_id


@workflows.command("delete")
@click.argument("name_or_id")
@click.option("--namespace", "namespace_name", default=None, help="Namespace [default: current].")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@handle_errors()
def workflows_delete(name_or_id: str, namespace_name: str | None, yes: bool) -> None:
    """Delete a workflow: its triggers, webhooks, deployments, executions and dev sessions,
    and the runtimes no other workflow uses. There is no undo.

    \b
    Example:
      floww workflows delete hello --yes
    """
    s = session()
    workflow = _named(s, namespace_name, name_or_id)
    if not yes:
        if not current_env().interactive:
            raise InvalidInput(
                f"deleting workflow {workflow.name} cannot be undone; pass --yes to confirm"
            )
        if not click.confirm(
            f"Delete workflow {workflow.name} ({workflow.id}) with its deployments and executions?",
            default=False,
            err=True,
        ):
            raise InvalidInput(f"workflow {workflow.name} was not deleted")
    s.platform.delete_workflow(workflow.id)
    click.echo(f"Deleted workflow {workflow.name} ({workflow.id}).")
