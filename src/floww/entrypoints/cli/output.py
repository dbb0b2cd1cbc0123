"""Rendering: JSON for machines, aligned columns for people, and step-by-step progress on
stderr (so ``--json`` output on stdout stays clean)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

__all__ = ["Progress", "echo_json", "echo_table"]


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def echo_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], empty: str) -> None:
    if not rows:
        click.echo(empty)
        return
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(click.style(line.rstrip(), bold=True) if index == 0 else line.rstrip())


class Progress:
    """One line per step: ``label...`` when it starts, ``done (1.2s)`` when the next one starts
    or the work ends."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._label: str | None = None
        self._started = 0.0

    def step(self, label: str) -> None:
        self.done()
        self._label, self._started = label, self._clock()
        click.echo(f"{label}...", err=True)

    def done(self, outcome: str = "done") -> None:
        if self._label is None:
            return
        elapsed = self._clock() - self._started
        click.echo(f"  {outcome} ({elapsed:.1f}s)", err=True)
        self._label = None
