"""``floww dev``: run the project locally with live events (being written)."""

from __future__ import annotations

import click

__all__ = ["dev"]


@click.command()
def dev() -> None:
    """Run the workflow on this machine with live events."""
    raise click.ClickException("floww dev is not available in this build yet")
