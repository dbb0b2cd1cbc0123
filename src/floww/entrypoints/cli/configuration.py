"""``floww config``: the CLI's own settings (not the server's)."""

from __future__ import annotations

import click

from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option
from floww.entrypoints.cli.output import echo_json
from floww.entrypoints.cli.session import DEFAULT_SERVER, current_env
from floww.entrypoints.cli.store import server_url

__all__ = ["config"]

KEYS = {
    "server": "the server commands talk to (FLOWW_SERVER overrides it)",
    "namespace": "the namespace selected on the current server",
}


def _check_key(key: str) -> str:
    if key not in KEYS:
        raise click.BadParameter(f"unknown key {key!r}; keys: {', '.join(KEYS)}", param_hint="KEY")
    return key


def _values() -> dict[str, str | None]:
    env = current_env()
    store = env.store
    server = env.environ.get("FLOWW_SERVER") or store.current_server() or DEFAULT_SERVER
    return {"server": server, "namespace": store.namespace(server)}


@click.group()
def config() -> None:
    """Read and change the CLI's settings: server, namespace."""


@config.command("get")
@click.argument("key")
@handle_errors()
def config_get(key: str) -> None:
    """Print the value of KEY (empty when unset).

    \b
    Example:
      floww config get server
    """
    click.echo(_values()[_check_key(key)] or "")


@config.command("set")
@click.argument("key")
@click.argument("value")
@handle_errors()
def config_set(key: str, value: str) -> None:
    """Set KEY to VALUE.

    \b
    Example:
      floww config set server https://floww.example.com
    """
    store = current_env().store
    if _check_key(key) == "server":
        store.set_current_server(server_url(value))
    else:
        store.set_namespace(str(_values()["server"]), value)
    click.echo(f"{key} = {value}")


@config.command("list")
@json_option
@handle_errors()
def config_list(as_json: bool) -> None:
    """Print every setting.

    \b
    Example:
      floww config list
    """
    values = _values()
    if as_json:
        echo_json(values)
        return
    for key, value in values.items():
        click.echo(f"{key} = {value or ''}")
