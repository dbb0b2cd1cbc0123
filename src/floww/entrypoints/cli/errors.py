"""Domain errors -> exit codes and one-sentence messages: the CLI's one mapping table."""

from __future__ import annotations

import click

from floww.domain import errors

__all__ = ["EXIT_CODES", "FlowwClickError", "exit_code_for"]

# 1 is a generic failure and 2 is click's usage error; the rest say what kind of failure.
EXIT_CODES: tuple[tuple[type[errors.FlowwError], int], ...] = (
    (errors.UserCodeError, 65),
    (errors.InvalidInput, 64),
    (errors.NotFound, 66),
    (errors.Unauthenticated, 77),
    (errors.PermissionDenied, 77),
    (errors.ProviderNotConfigured, 78),
    (errors.Conflict, 73),
    (errors.Unavailable, 69),
    (errors.DeadlineExceeded, 75),
    (errors.FlowwError, 1),
)


def exit_code_for(exc: errors.FlowwError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(exc, kind))


class FlowwClickError(click.ClickException):
    """A domain error on its way out of a command: printed as one sentence, with its code."""

    def __init__(self, exc: errors.FlowwError, hint: str = "") -> None:
        super().__init__(f"{exc}{' — ' + hint if hint else ''}")
        self.exit_code = exit_code_for(exc)  # type: ignore[misc]  # per instance, by error kind
