"""Options several commands share, written once so they read and behave alike."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["json_option", "project_option", "server_option"]

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
