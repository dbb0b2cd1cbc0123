"""What the listing commands share (``floww workflows``, ``deployments`` and ``executions``
have their own modules)."""

from __future__ import annotations

import click

__all__ = ["workflow_option"]

workflow_option = click.option(
    "--workflow",
    "-w",
    "workflow_name",
    default=None,
    help="Workflow name [default: the one of the project in this directory].",
)
