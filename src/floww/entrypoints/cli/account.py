"""Logging in and out, who you are, and which namespace you work in."""

from __future__ import annotations

import os
import sys
import webbrowser

import click

from floww.domain.errors import NotFound, Unauthenticated, Unavailable
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option, server_option
from floww.entrypoints.cli.output import echo_json, echo_table
from floww.entrypoints.cli.session import CliEnv, current_env, session

__all__ = ["login", "logout", "namespace", "whoami"]


def _open_browser(env: CliEnv, url: str) -> bool:
    if env.open_browser is not None:
        return env.open_browser(url)
    graphical = sys.platform in ("darwin", "win32") or any(
        env.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY")
    )
    if not graphical or not os.isatty(1):
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


@click.command()
@server_option
@click.option("--no-browser", is_flag=True, help="Only print the code and URL.")
@handle_errors()
def login(server: str | None, no_browser: bool) -> None:
    """Log in to a floww server with a device code, and make it the current server.

    Prints a code and a URL; approve the code there (the browser opens when it can). The
    tokens are stored for this server in the floww config directory, readable by you only.

    \b
    Example:
      floww login --server http://127.0.0.1:8000
    """
    env = current_env()
    s = session(server)
    flow = s.device_flow()
    device = flow.start()
    click.echo(f"To log in to {s.server}, open:\n\n    {device.verification_uri}\n")
    click.echo(f"and enter the code:  {device.user_code}\n")
    if not no_browser and _open_browser(env, device.verification_uri_complete):
        click.echo("(opened in your browser)")
    click.echo("Waiting for approval... (Ctrl-C to give up)")
    tokens = flow.poll(device)
    s.remember(tokens)
    s.store.set_current_server(s.server)
    me = s.platform.whoami()
    click.echo(f"Logged in to {s.server} as {me.get('email') or me.get('id')}.")
    if s.store.namespace(s.server) is None:
        found = s.platform.list_namespaces()
        if len(found) == 1:
            s.store.set_namespace(s.server, str(found[0]["name"]))
            click.echo(f"Namespace: {found[0]['name']}")
        elif found:
            click.echo("Choose a namespace with `floww namespace select NAME`.")


@click.command()
@server_option
@handle_errors()
def logout(server: str | None) -> None:
    """End your login on a server (the current one by default): the server revokes its tokens,
    and the stored credentials are deleted.

    \b
    Example:
      floww logout
    """
    s = session(server)
    stored = s.store.credentials(s.server)
    if stored is None:
        click.echo(f"You were not logged in to {s.server}.")
    else:
        try:
            access = stored.access_token
            if stored.expired(s.env.now()) and stored.refresh_token:
                access = s.refresh(stored.refresh_token).access_token
            as_login = s.env.adapters.api(s.server, s.api_http, lambda: access)
            as_login.post("/api/auth/logout")
            click.echo(
                f"Logged out of {s.server}: the server ended this login; "
                "its credentials are deleted."
            )
        except Unauthenticated:
            click.echo(
                f"Logged out of {s.server}: the login had ended already; "
                "its credentials are deleted."
            )
        except Unavailable as exc:
            click.echo(
                f"Could not reach {s.server} ({exc.message}); the login stays valid on the "
                "server until it expires. Run `floww logout` again when it is reachable."
            )
            raise SystemExit(1) from exc
        s.store.forget_credentials(s.server)
    if s.api_key:
        click.echo("Note: FLOWW_TOKEN is set in your environment and still authenticates.")


@click.command()
@server_option
@json_option
@handle_errors()
def whoami(server: str | None, as_json: bool) -> None:
    """Show who you are on the current server.

    \b
    Example:
      floww whoami --json
    """
    s = session(server)
    me = s.platform.whoami()
    if as_json:
        echo_json({"server": s.server, "namespace": s.store.namespace(s.server), **me})
        return
    click.echo(f"{me.get('email') or me.get('id')} ({me.get('kind', 'user')}) on {s.server}")
    selected = s.store.namespace(s.server)
    if selected:
        click.echo(f"namespace: {selected}")


@click.group()
def namespace() -> None:
    """Show and choose the namespace commands work in (per server)."""


@namespace.command("show")
@server_option
@json_option
@handle_errors()
def namespace_show(server: str | None, as_json: bool) -> None:
    """Show the current namespace and the ones you can use.

    \b
    Example:
      floww namespace show
    """
    s = session(server)
    found = s.platform.list_namespaces()
    selected = s.store.namespace(s.server)
    if selected is None and len(found) == 1:
        selected = str(found[0]["name"])
    if as_json:
        echo_json({"current": selected, "namespaces": found})
        return
    click.echo(f"current: {selected or '(none; run `floww namespace select NAME`)'}")
    rows = [("*" if n["name"] == selected else "", n["name"], n["id"]) for n in found]
    echo_table(rows, ("", "NAME", "ID"), "You have no namespaces.")


@click.argument("name")
@server_option
@handle_errors()
def _select(name: str, server: str | None) -> None:
    """Work in namespace NAME on the current server from now on.

    \b
    Example:
      floww namespace select default
    """
    s = session(server)
    for found in s.platform.list_namespaces():
        if name in (found["name"], found["id"]):
            s.store.set_namespace(s.server, str(found["name"]))
            click.echo(f"Namespace {found['name']} selected for {s.server}.")
            return
    raise NotFound("namespace", name)


namespace_select = namespace.command("select")(_select)
namespace.add_command(namespace_select, "set")
