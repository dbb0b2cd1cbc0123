"""The ``floww`` command group. Commands are thin: parse, call, render."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from floww.domain.errors import FlowwError
from floww.entrypoints.cli.errors import FlowwClickError

__all__ = ["cli", "handle_errors", "main"]

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(hint: str = "") -> Callable[[F], F]:
    """Turn domain errors raised by a command into a message and a meaningful exit code."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except FlowwError as exc:
                raise FlowwClickError(exc, hint) from exc

        return wrapper  # type: ignore[return-value]

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="floww")
def cli() -> None:
    """floww: code-first workflow automation. Write Python, get webhooks, cron and events."""


def _register() -> None:
    from floww.entrypoints.cli.serve import serve

    cli.add_command(serve)


_register()


def main() -> None:
    cli(prog_name="floww")
