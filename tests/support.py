"""Shared test setup: a ``ServerDeps`` over the in-memory adapters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from floww.adapters.local.dispatcher import ThreadDispatcher
from floww.adapters.memory import (
    InMemoryAuth,
    InMemoryFunctionHost,
    InMemoryRealtime,
    InMemoryReplies,
    InMemoryWorkflowRepo,
    RandomIds,
    SystemClock,
)
from floww.domain.usecases.deps import ServerDeps, ServerSettings
from floww.ports.auth import Auth
from floww.ports.function_host import FunctionHost
from floww.ports.realtime import Realtime
from floww.ports.support import Clock
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["TEST_SETTINGS", "memory_deps"]

TEST_SETTINGS = ServerSettings(base_url="http://floww.test", response_deadline_s=5)


@contextlib.contextmanager
def memory_deps(
    *,
    settings: ServerSettings = TEST_SETTINGS,
    clock: Clock | None = None,
    auth: Auth | None = None,
    repo: WorkflowRepo | None = None,
    host: FunctionHost | None = None,
    realtime: Realtime | None = None,
) -> Iterator[ServerDeps]:
    """``ServerDeps`` with a four-thread executor, shut down on exit. Whatever is not given is
    a fresh in-memory adapter (``SystemClock``, ``InMemoryAuth`` on that clock, ...)."""
    clock = clock if clock is not None else SystemClock()
    with ThreadPoolExecutor(4) as executor:
        yield ServerDeps(
            repo=repo if repo is not None else InMemoryWorkflowRepo(),
            host=host if host is not None else InMemoryFunctionHost(),
            realtime=realtime if realtime is not None else InMemoryRealtime(),
            replies=InMemoryReplies(),
            auth=auth if auth is not None else InMemoryAuth(clock),
            clock=clock,
            ids=RandomIds(),
            executor=executor,
            dispatcher=ThreadDispatcher(concurrency=4, queue_limit=100, idle_s=1.0),
            settings=settings,
        )
