"""The ``floww`` command line (started by ``floww.bootstrap.main`` with its adapters)."""

from __future__ import annotations

from floww.entrypoints.cli.main import cli

__all__ = ["cli"]
