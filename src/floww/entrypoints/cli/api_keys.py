"""``floww api-keys``: API keys of the current namespace, for CI (``FLOWW_TOKEN``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import click

from floww.domain.errors import PermissionDenied
from floww.domain.roles import API_KEY_SCOPES, DEFAULT_API_KEY_SCOPE
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option, listing_group
from floww.entrypoints.cli.output import echo_json, echo_table
from floww.entrypoints.cli.session import Session, session

__all__ = ["api_keys"]

_NAMESPACE = click.option(
    "--namespace", "namespace_name", default=None, help="Namespace [default: current]."
)


def _path(s: Session, namespace_name: str | None) -> tuple[dict[str, Any], str]:
    ns = s.namespace(namespace_name)
    return ns, f"/api/namespaces/{quote(str(ns['id']), safe='')}/api-keys"


@contextlib.contextmanager
def _as_user(s: Session) -> Iterator[None]:
    """An API key may not manage keys; with ``FLOWW_TOKEN`` set, say how to act as the user."""
    try:
        yield
    except PermissionDenied as exc:
        if not s.api_key:
            raise
        raise PermissionDenied(
            f"{exc.message}; FLOWW_TOKEN holds an API key: unset it and run `floww login`"
        ) from exc


@listing_group("api-keys")
def api_keys() -> None:
    """API keys for CI (FLOWW_TOKEN): create, list, revoke. Alone: list them.

    A key acts for you in one namespace (the current one, or --namespace); it cannot manage
    other keys. Use it as FLOWW_TOKEN:

    \b
      FLOWW_TOKEN=floww_... floww deploy --yes
    """


@api_keys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice(API_KEY_SCOPES),
    default=DEFAULT_API_KEY_SCOPE,
    show_default=True,
    help="read: read only; deploy: read, run and deploy; full: also provider secrets.",
)
@_NAMESPACE
@json_option
@handle_errors()
def create(name: str, scope: str, namespace_name: str | None, as_json: bool) -> None:
    """Create an API key named NAME; the key is printed this once only.

    \b
    Example:
      floww api-keys create github-actions
      floww api-keys create dashboards --scope read
    """
    s = session()
    ns, path = _path(s, namespace_name)
    with _as_user(s):
        made = s.api.post(path, {"name": name, "scope": scope})
    if as_json:
        echo_json(made)
        return
    info = made["api_key"]
    click.echo(
        f"Created API key {info['name']!r} ({info['id']}, scope {info.get('scope', scope)}) "
        f"for namespace {ns['name']}:"
    )
    click.echo("")
    click.echo(f"  {made['key']}")
    click.echo("")
    click.echo("Copy it now: it will not be shown again. Use it in CI as an environment variable:")
    click.echo(f"  FLOWW_SERVER={s.server} FLOWW_TOKEN=<the key> floww deploy --yes")
    click.echo(f"Revoke it with `floww api-keys revoke {info['id']}`.")


@api_keys.command("list")
@_NAMESPACE
@json_option
@handle_errors()
def list_(namespace_name: str | None, as_json: bool) -> None:
    """List your API keys of the namespace (never the keys themselves).

    \b
    Example:
      floww api-keys list --json
    """
    s = session()
    ns, path = _path(s, namespace_name)
    with _as_user(s):
        found = s.api.get(path)["items"]
    if as_json:
        echo_json(found)
        return
    rows = [
        (k["name"], k["id"], k["hint"], k.get("scope", ""), k.get("created_at", "")) for k in found
    ]
    echo_table(
        rows,
        ("NAME", "ID", "KEY", "SCOPE", "CREATED"),
        f"No API keys in {ns['name']}; create one with `floww api-keys create NAME`.",
    )


@api_keys.command("revoke")
@click.argument("key_id", metavar="ID")
@_NAMESPACE
@handle_errors()
def revoke(key_id: str, namespace_name: str | None) -> None:
    """Revoke the API key ID (see `floww api-keys list`); it stops working at once.

    \b
    Example:
      floww api-keys revoke key_3k9x
    """
    s = session()
    _, path = _path(s, namespace_name)
    with _as_user(s):
        s.api.delete(f"{path}/{quote(key_id, safe='')}")
    click.echo(f"Revoked API key {key_id}; it no longer works.")
