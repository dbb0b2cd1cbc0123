"""The ``floww`` command group. Commands are thin: parse, call, render."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from floww.domain.errors import (
    FlowwError,
    NotFound,
    ProviderNotConfigured,
    Unauthenticated,
    Unavailable,
    UserCodeError,
)
from floww.entrypoints.cli.errors import FlowwClickError

__all__ = ["cli", "handle_errors", "hint_for"]

F = TypeVar("F", bound=Callable[..., Any])


def hint_for(exc: FlowwError) -> str:
    """What to do next, for errors whose message does not say it already."""
    if isinstance(exc, Unauthenticated):
        hint = "run `floww login`"
    elif isinstance(exc, NotFound) and exc.kind in ("project file", "workflow"):
        hint = "run `floww init` to create the project and its workflow"
    elif isinstance(exc, NotFound) and exc.kind == "namespace":
        hint = "see `floww namespace show` for the namespaces you can use"
    elif isinstance(exc, NotFound) and exc.kind == "API key":
        hint = "see `floww api-keys list` for your keys of this namespace"
    elif isinstance(exc, ProviderNotConfigured):
        hint = "set them up with `floww providers setup TYPE:ALIAS --set FIELD=VALUE`"
    elif isinstance(exc, Unavailable):
        hint = "check the server URL with `floww config get server`"
    elif isinstance(exc, UserCodeError) and "ModuleNotFoundError" in exc.message:
        hint = (
            "floww loads your code here first: install the project's requirements in this "
            "environment (`pip install -r requirements.txt`)"
        )
    else:
        return ""
    key = hint.split("`")[1] if "`" in hint else hint
    return "" if key in exc.message else hint


def _refused_api_key_hint(exc: FlowwError) -> str:
    """When ``FLOWW_TOKEN`` is set it wins over a login, so a refusal is about that key."""
    ctx = click.get_current_context(silent=True)
    environ = getattr(ctx.find_root().obj, "environ", None) if ctx is not None else None
    if not isinstance(exc, Unauthenticated) or not environ or not environ.get("FLOWW_TOKEN"):
        return ""
    return (
        "the key in FLOWW_TOKEN was refused; run `floww login` or use another key "
        "(unset FLOWW_TOKEN to use your login)"
    )


def handle_errors(hint: str = "") -> Callable[[F], F]:
    """Turn domain errors raised by a command into a message and a meaningful exit code."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except FlowwError as exc:
                shown = hint or _refused_api_key_hint(exc) or hint_for(exc)
                raise FlowwClickError(exc, shown) from exc

        return wrapper  # type: ignore[return-value]

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="floww")
def cli() -> None:
    """floww: code-first workflow automation. Write Python, get webhooks, cron and events.

    \b
    A first session:
      floww serve                      # in another terminal
      floww login
      floww init hello && cd hello
      floww dev                        # live events on your machine
      floww deploy                     # ship it
    """


def _register() -> None:
    from floww.entrypoints.cli.account import login, logout, namespace, whoami
    from floww.entrypoints.cli.api_keys import api_keys
    from floww.entrypoints.cli.configuration import config
    from floww.entrypoints.cli.deploy import deploy
    from floww.entrypoints.cli.deployments import deployments
    from floww.entrypoints.cli.dev import dev
    from floww.entrypoints.cli.executions import executions
    from floww.entrypoints.cli.init import init
    from floww.entrypoints.cli.people import account, members, users
    from floww.entrypoints.cli.providers import providers
    from floww.entrypoints.cli.runs import invoke, logs
    from floww.entrypoints.cli.serve import serve
    from floww.entrypoints.cli.workflows import workflows

    for command in (
        serve,
        login,
        logout,
        whoami,
        namespace,
        init,
        dev,
        deploy,
        workflows,
        deployments,
        executions,
        logs,
        invoke,
        providers,
        api_keys,
        config,
        users,
        account,
    ):
        cli.add_command(command)
    namespace.add_command(members)


_register()
