"""Options and command shapes several commands share, written once so they read and behave
alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

__all__ = ["json_option", "listing_group", "project_option", "server_option"]

server_option = click.option(
    "--server", default=None, help="Server URL [default: FLOWW_SERVER, the current server]."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=".",
    help="Project directory [default: the current one].",
)


def listing_group(name: str | None = None) -> Callable[[Callable[[], None]], click.Group]:
    """A command group made from a function with its help as docstring; called without a
    subcommand, it runs its ``list`` command (``floww workflows`` is ``floww workflows list``)."""

    def make(described: Callable[[], None]) -> click.Group:
        @click.pass_context
        def run(ctx: click.Context) -> None:
            if ctx.invoked_subcommand is None:
                ctx.invoke(group.commands["list"])

        run.__name__, run.__doc__ = described.__name__, described.__doc__
        group = click.group(name, invoke_without_command=True)(run)
        return group

    return make
