"""The ``floww`` command line."""

from __future__ import annotations

from floww.entrypoints.cli.main import cli, main

__all__ = ["cli", "main"]
