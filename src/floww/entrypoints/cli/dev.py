"""``floww dev``: run the project on this machine with live events (docs/architecture.md,
"Flows", "(client) dev"). A thin shell: the session is ``usecases.dev``, the machinery
``devloop``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import attrs
import click

from floww.domain.usecases.dev import DevSession
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import project_option, server_option
from floww.entrypoints.cli.project import find_project
from floww.entrypoints.cli.prompter import TerminalPrompter
from floww.entrypoints.cli.session import current_env, session
from floww.sdk.bundle import bundle_from_directory

__all__ = ["dev"]


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port of the local webhook server (a free one when it is taken).",
)
@click.option("--no-local", is_flag=True, help="No local webhook server and no local cron.")
@click.option("--yes", "-y", is_flag=True, help="Create the workflow without asking.")
@project_option
@server_option
@handle_errors()
def dev(port: int, no_local: bool, yes: bool, project_dir: Path, server: str | None) -> None:
    """Run the workflow on this machine with live events.

    Loads your code, asks for the credentials of providers it uses that are not set up yet
    (secrets typed hidden), and registers its triggers as dev triggers: webhooks sent to the
    server come to this session and get your handler's answer. The same webhooks are served
    locally on http://127.0.0.1:PORT with the production paths, and cron schedules fire here.

    Saving any file of the project reloads the code; code that fails to load is reported with
    its file and line while the last good code keeps serving. Ctrl-C stops and removes the
    dev triggers from the server.

    \b
    Examples:
      floww dev
      curl -X POST http://127.0.0.1:8765/hello/ada
    """
    from floww.domain.usecases.project_workflow import resolve_workflow
    from floww.entrypoints.cli.devloop import (
        DevLoop,
        DevOutput,
        LocalWebhookServer,
        ProjectWatcher,
        local_webhook_app,
    )
    from floww.entrypoints.cli.devloop.output import listening_lines

    env = current_env()
    project = find_project(project_dir.resolve())
    s = session(server)
    prompter = TerminalPrompter(interactive=env.interactive)

    def pick(names: Sequence[str]) -> str | None:
        if not env.interactive:
            return None
        choice = click.Choice(["", *names])
        picked: str = click.prompt(
            "Use one of these workflows instead (empty: none)",
            type=choice,
            default="",
            show_choices=True,
            err=True,
        )
        return picked or None

    workflow = resolve_workflow(
        s.platform,
        name=project.name,
        workflow_id=project.workflow_id,
        namespace_id=lambda: str(s.namespace(project.namespace)["id"]),
        prompter=prompter,
        assume_yes=yes,
        others=lambda ns: [str(w.get("name")) for w in s.platform.list_workflows(ns)],
        pick=pick,
    )
    if workflow.id != project.workflow_id:
        attrs.evolve(project, name=workflow.name, workflow_id=workflow.id).save()

    click.echo(f"floww dev · {workflow.name} ({workflow.id}) on {s.server}")
    dev_session = DevSession(
        workflow=workflow,
        read_code=lambda: bundle_from_directory(project.root, project.entrypoint),
        platform=s.platform,
        runner=env.adapters.runner(),
        prompter=prompter,
        api_url=s.server,
        local_token=s.platform.dev_token(workflow.id),
    )
    clock = env.adapters.clock()
    loop = DevLoop(dev_session, DevOutput(click.echo), clock=clock)
    local = (
        None
        if no_local
        else LocalWebhookServer(
            local_webhook_app(loop.triggers, loop.run_local, workflow_id=workflow.id), port
        )
    )
    watcher = ProjectWatcher(project.root, loop.reload)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        loop.start()
        loop.listen()
        if local is not None:
            loop.local_url = local.start()
            loop.cron.start()
        watcher.start()
        url_lines = listening_lines(
            dev_session.webhook_urls, loop.triggers(), loop.local_url, clock.now()
        )
        click.echo("\n".join(url_lines))
        click.echo(f"Watching {project.root} for changes. Ctrl-C to stop.")
        forever = threading.Event()
        while not forever.wait(1.0):
            pass
    except KeyboardInterrupt:
        click.echo("Stopping: removing the dev triggers from the server...")
    finally:
        watcher.stop()
        if local is not None:
            local.stop()
        loop.stop()
    click.echo("Stopped.")
