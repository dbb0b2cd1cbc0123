"""Shared test setup: a ``ServerDeps`` over the in-memory adapters, built through the
composition root (``floww.bootstrap.memory_adapters``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from floww.adapters.local.dispatcher import ThreadDispatcher
from floww.bootstrap import memory_adapters, server_deps
from floww.domain.usecases.deps import ServerDeps, ServerSettings
from floww.ports.support import Clock

__all__ = ["EXAMPLES", "TEST_SETTINGS", "memory_deps"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TEST_SETTINGS = ServerSettings(base_url="http://floww.test", response_deadline_s=5)


@contextlib.contextmanager
def memory_deps(
    *, settings: ServerSettings = TEST_SETTINGS, clock: Clock | None = None, **replace: Any
) -> Iterator[ServerDeps]:
    """``ServerDeps`` with a four-thread executor, shut down on exit. Whatever is not given
    (``repo=``, ``host=``, ``realtime=``, ``identity=``, ``tokens=``, ...) is the memory
    profile's fresh adapter on ``clock`` (default: the system clock)."""
    if "identity" in replace and "api_keys" not in replace:
        replace["api_keys"] = replace["identity"]  # one provider serves both, as in bootstrap
    replace.setdefault("dispatcher", ThreadDispatcher(concurrency=4, queue_limit=100, idle_s=1.0))
    adapters = attrs.evolve(memory_adapters(clock=clock), **replace)
    with ThreadPoolExecutor(4) as executor:
        yield server_deps(adapters, settings, executor)
