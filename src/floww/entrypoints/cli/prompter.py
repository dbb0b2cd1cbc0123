"""The terminal ``Prompter``: asks with ``click.prompt``, secret fields typed hidden. When
nobody can answer (``--yes``, or no terminal) it never waits: ``ask`` raises
``ProviderNotConfigured`` naming the provider and ``confirm`` takes the default."""

from __future__ import annotations

import click

from floww.domain.errors import ProviderNotConfigured
from floww.domain.model import ProviderField, ProviderRef
from floww.ports.support import Prompter

__all__ = ["TerminalPrompter"]


class TerminalPrompter(Prompter):
    def __init__(self, *, interactive: bool) -> None:
        self.interactive = interactive

    def ask(self, field: ProviderField, *, provider: str) -> str:
        if not self.interactive:
            ref = ProviderRef.parse(provider)
            raise ProviderNotConfigured([(ref.type, ref.alias)])
        label = field.label or field.name
        answer: str = click.prompt(
            f"  {provider} {label}",
            hide_input=field.secret,
            default="" if not field.required else None,
            show_default=False,
            err=True,
        )
        return answer

    def confirm(self, question: str, *, default: bool = False) -> bool:
        if not self.interactive:
            return default
        return bool(click.confirm(question, default=default, err=True))

    def say(self, line: str) -> None:
        click.echo(line, err=True)
