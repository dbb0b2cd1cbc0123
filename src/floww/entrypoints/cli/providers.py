"""``floww providers``: the namespace's provider credentials."""

from __future__ import annotations

import click

from floww.domain.errors import InvalidInput
from floww.domain.model import ProviderRef
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import json_option, listing_group
from floww.entrypoints.cli.output import echo_json, echo_table
from floww.entrypoints.cli.prompter import TerminalPrompter
from floww.entrypoints.cli.session import current_env, session

__all__ = ["providers"]

_NAMESPACE = click.option(
    "--namespace", "namespace_name", default=None, help="Namespace [default: current]."
)


@listing_group()
def providers() -> None:
    """List, set up and remove provider credentials (GitHub, Slack, ...) of a namespace.
    Alone: list the current namespace's."""


@providers.command("list")
@_NAMESPACE
@json_option
@handle_errors()
def providers_list(namespace_name: str | None, as_json: bool) -> None:
    """List the namespace's providers; secret fields are not shown.

    \b
    Example:
      floww providers list
    """
    s = session()
    ns = s.namespace(namespace_name)
    found = s.platform.list_providers(str(ns["id"]))
    if as_json:
        echo_json(found)
        return
    rows = [(p["type"], p["alias"], p["id"]) for p in found]
    echo_table(rows, ("TYPE", "ALIAS", "ID"), f"No providers in {ns['name']}.")


@providers.command("types")
@json_option
@handle_errors()
def providers_types(as_json: bool) -> None:
    """List the provider types this server offers: their setup fields, triggers (with the
    filters each takes) and actions.

    \b
    Example:
      floww providers types
      floww providers setup stripe:default
    """
    types = session().platform.list_provider_types()
    if as_json:
        echo_json(types)
        return
    for item in types:
        click.echo(f"{item['type']}: {item.get('title', item['type'])}")
        fields = ", ".join(
            f["name"] + ("" if f.get("required", True) else " (optional)")
            for f in item.get("fields", [])
        )
        if fields:
            click.echo(f"  fields:   {fields}")
        for trigger in item.get("triggers", []):
            filters = ", ".join(trigger.get("filters", []))
            click.echo(
                f"  trigger:  {trigger['name']}: {trigger['description']}"
                + (f" [{filters}]" if filters else "")
            )
        if item.get("actions"):
            click.echo(f"  actions:  {', '.join(item['actions'])}")


def _assignments(values: tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not field=value", param_hint="'--set'")
        parsed[key] = value
    return parsed


@providers.command("setup")
@click.argument("provider")
@click.option("--set", "values", multiple=True, metavar="FIELD=VALUE", help="A field's value.")
@_NAMESPACE
@handle_errors()
def providers_setup(provider: str, values: tuple[str, ...], namespace_name: str | None) -> None:
    """Set up (or replace) PROVIDER, given as TYPE or TYPE:ALIAS. Asks for each field, secret
    ones hidden; --set answers without asking.

    \b
    Examples:
      floww providers setup slack:ops
      floww providers setup github --set token=ghp_...
      floww providers setup secret:stripe --set api_key=sk_live_...
    """
    env = current_env()
    given = _assignments(values)
    ref = ProviderRef.parse(provider)
    s = session()
    ns = s.namespace(namespace_name)
    fields = s.platform.provider_fields(ref.type)
    if not fields:
        # A Secret: its fields are whatever the code declares, all of them secret.
        if not given:
            raise InvalidInput(
                f"{ref.key} takes the fields your code declares: pass each as --set NAME=VALUE"
            )
        s.platform.setup_provider(str(ns["id"]), ref, dict(given))
        click.echo(f"Provider {ref.key} is set up in {ns['name']}.")
        return
    unknown = sorted(set(given) - {f.name for f in fields})
    if unknown:
        names = ", ".join(f.name for f in fields)
        raise InvalidInput(f"{ref.type} has no field {', '.join(unknown)}; its fields: {names}")
    prompter = TerminalPrompter(interactive=env.interactive)
    config: dict[str, str] = {}
    for field in fields:
        if field.name in given:
            config[field.name] = given[field.name]
        elif env.interactive:
            config[field.name] = prompter.ask(field, provider=ref.key)
        elif field.required:
            raise InvalidInput(f"{ref.key} needs {field.name}; pass --set {field.name}=VALUE")
    s.platform.setup_provider(str(ns["id"]), ref, {k: v for k, v in config.items() if v != ""})
    click.echo(f"Provider {ref.key} is set up in {ns['name']}.")


@providers.command("remove")
@click.argument("provider")
@_NAMESPACE
@handle_errors()
def providers_remove(provider: str, namespace_name: str | None) -> None:
    """Remove PROVIDER (TYPE or TYPE:ALIAS) and its credentials from the namespace.

    \b
    Example:
      floww providers remove slack:ops
    """
    ref = ProviderRef.parse(provider)
    s = session()
    ns = s.namespace(namespace_name)
    s.platform.remove_provider(str(ns["id"]), ref)
    click.echo(f"Provider {ref.key} removed from {ns['name']}.")
