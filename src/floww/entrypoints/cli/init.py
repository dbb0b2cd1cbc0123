"""``floww init``: scaffold a project and create (or pick) its workflow on the server."""

from __future__ import annotations

import re
from pathlib import Path

import click

from floww.domain.errors import Conflict, InvalidInput
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import server_option
from floww.entrypoints.cli.project import PROJECT_FILE, Project
from floww.entrypoints.cli.session import current_env, session

__all__ = ["init"]

MAIN_PY = '''"""{name}: a floww workflow. `floww dev` runs it live; `floww deploy` ships it."""

from typing import Any

from floww import Builtin, Context, WebhookEvent

builtin = Builtin()


@builtin.webhook("/hello", methods=["POST"])
def hello(ctx: Context, event: WebhookEvent) -> dict[str, Any]:
    body = event.body if isinstance(event.body, dict) else {{}}
    name = body.get("name", "world")
    ctx.log.info("saying hi to %s", name)
    return {{"message": f"hi {{name}}"}}
'''
GITIGNORE = ".venv/\n__pycache__/\n*.pyc\n.env\n"
_NAME = re.compile(r"[^a-z0-9-]+")


def _default_name(directory: Path) -> str:
    name = _NAME.sub("-", directory.resolve().name.lower()).strip("-")
    return name or "workflow"


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--name", default=None, help="Workflow name [default: the directory's name].")
@click.option("--namespace", "namespace_name", default=None, help="Namespace [default: current].")
@server_option
@click.option("--yes", "-y", is_flag=True, help="Never prompt; create the workflow if missing.")
@click.option("--force", is_flag=True, help="Overwrite existing project files.")
@handle_errors()
def init(
    directory: Path,
    name: str | None,
    namespace_name: str | None,
    server: str | None,
    yes: bool,
    force: bool,
) -> None:
    """Create a project in DIRECTORY: main.py (a webhook that says hi), floww.toml,
    requirements.txt and .gitignore; then create the workflow on the server, or use the
    existing one of that name.

    \b
    Example:
      floww init hello --namespace default --yes
    """
    env = current_env()
    name = name or _default_name(directory)
    files = {
        "main.py": MAIN_PY.format(name=name),
        "requirements.txt": "",
        ".gitignore": GITIGNORE,
    }
    existing = [f for f in (*files, PROJECT_FILE) if (directory / f).exists()]
    if existing and not force:
        raise Conflict(
            f"{', '.join(existing)} already exist in {directory}; pass --force to overwrite them"
        )
    s = session(server)
    ns = s.namespace(namespace_name)
    workflow = s.platform.find_workflow(str(ns["id"]), name)
    if workflow is None:
        interactive = env.interactive and not yes
        if interactive and not click.confirm(
            f"Create workflow {name!r} in namespace {ns['name']}?", default=True, err=True
        ):
            raise InvalidInput("floww init needs a workflow; pass --name to pick another one")
        workflow = s.platform.create_workflow(str(ns["id"]), name)
        click.echo(f"Created workflow {name} ({workflow.id}) in namespace {ns['name']}.")
    else:
        click.echo(f"Using the existing workflow {name} ({workflow.id}) in {ns['name']}.")
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, text in files.items():
        (directory / file_name).write_text(text, encoding="utf-8")
    Project(root=directory, name=name, namespace=str(ns["name"]), workflow_id=workflow.id).save()
    click.echo(f"Wrote main.py, {PROJECT_FILE}, requirements.txt and .gitignore in {directory}.")
    click.echo("Next: `floww dev` to run it live, `floww deploy` to ship it.")
