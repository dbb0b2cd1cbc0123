"""``floww deployments``: a workflow's deployment history, rollback and deactivation."""

from __future__ import annotations

from typing import Any

import click

from floww.entrypoints.cli.listings import workflow_option
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option, listing_group
from floww.entrypoints.cli.output import echo_json, echo_table
from floww.entrypoints.cli.session import session

__all__ = ["deployments"]


def _short_digest(deployment: dict[str, Any]) -> str:
    digest = str((deployment.get("code") or {}).get("digest") or "")
    return digest.removeprefix("sha256:")[:12]


@listing_group()
def deployments() -> None:
    """The deployments of a workflow: history, rollback, deactivation. Alone: the list."""


@deployments.command("list")
@workflow_option
@json_option
@handle_errors()
def deployments_list(workflow_name: str | None, as_json: bool) -> None:
    """List a workflow's deployments, newest first: code digest, runtime image, triggers,
    who created it and when.

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
        (
            d["id"],
            d["status"],
            _short_digest(d),
            d.get("image_ref") or "(runtime gone)",
            len(d.get("triggers", [])),
            d.get("created_by") or "",
            d.get("created_at") or "",
        )
        for d in found
    ]
    echo_table(
        rows,
        ("ID", "STATUS", "CODE", "IMAGE", "TRIGGERS", "BY", "CREATED"),
        "No deployments; run `floww deploy`.",
    )


@deployments.command("rollback")
@click.argument("deployment_id", required=False)
@workflow_option
@json_option
@handle_errors()
def deployments_rollback(
    deployment_id: str | None, workflow_name: str | None, as_json: bool
) -> None:
    """Make an earlier deployment active at once, with no build; the triggers follow it.

    DEPLOYMENT_ID defaults to the deployment before the active one.

    \b
    Examples:
      floww deployments rollback
      floww deployments rollback dep_0123 -w hello
    """
    s = session()
    workflow = s.workflow(workflow_name)
    receipt = s.platform.activate_deployment(workflow.id, deployment_id)
    if as_json:
        echo_json(receipt)
        return
    active = receipt["deployment"]
    click.echo(
        f"Deployment {active['id']} (code {_short_digest(active)}) of {workflow.name} "
        "is active again."
    )
    for url in receipt.get("webhook_urls", []):
        click.echo(f"  {url}")
    for hook in receipt.get("provider_hooks", []):
        click.echo(f"  {hook['provider']} webhook on {hook['target']}: {hook['message']}.")


@deployments.command("deactivate")
@workflow_option
@json_option
@handle_errors()
def deployments_deactivate(workflow_name: str | None, as_json: bool) -> None:
    """Return a workflow to dev-only: no active deployment, its triggers removed; a
    `floww dev` session answers its webhooks again.

    \b
    Example:
      floww deployments deactivate -w hello
    """
    s = session()
    workflow = s.workflow(workflow_name)
    previous = s.platform.deactivate_deployment(workflow.id)
    if as_json:
        echo_json({"deactivated": previous})
        return
    if previous is None:
        click.echo(f"{workflow.name} had no active deployment; it is dev-only.")
        return
    click.echo(
        f"Deactivated deployment {previous['id']} of {workflow.name}; it is dev-only now "
        "(`floww deployments rollback` makes it active again)."
    )
