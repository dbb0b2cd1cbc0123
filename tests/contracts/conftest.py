"""Fixtures the contract suites run against.

Each port's fixture is parametrised over a list of named factories. A factory is a generator:
it yields a fresh adapter and cleans up after the test. An adapter joins a suite by adding one
``pytest.param(factory, id=...)`` to the list (real systems also get
``marks=pytest.mark.integration``); the suites themselves never change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from floww.adapters.memory import (
    InMemoryAuth,
    InMemoryFunctionHost,
    InMemoryImageRegistry,
    InMemoryRealtime,
    InMemoryReplies,
    InMemoryWorkflowRepo,
    ManualClock,
)
from floww.domain.model import Principal
from floww.ports.auth import Auth
from floww.ports.function_host import FunctionHost
from floww.ports.image_registry import ImageRegistry
from floww.ports.realtime import Realtime
from floww.ports.replies import Replies
from floww.ports.workflow_repo import WorkflowRepo


@attrs.frozen
class AuthHarness:
    """An Auth adapter with the controls its suite needs: a clock the test moves, and a way to
    make a user principal the adapter will accept."""

    auth: Auth
    clock: ManualClock
    make_user: Callable[[str], Principal]


def memory_repo() -> Iterator[WorkflowRepo]:
    yield InMemoryWorkflowRepo()


def memory_registry() -> Iterator[ImageRegistry]:
    yield InMemoryImageRegistry()


def memory_host() -> Iterator[FunctionHost]:
    yield InMemoryFunctionHost()


def memory_realtime() -> Iterator[Realtime]:
    yield InMemoryRealtime()


def memory_replies() -> Iterator[Replies]:
    yield InMemoryReplies()


def memory_auth() -> Iterator[AuthHarness]:
    clock = ManualClock()
    auth = InMemoryAuth(clock)
    yield AuthHarness(auth=auth, clock=clock, make_user=auth.create_user)


REPO_FACTORIES = [pytest.param(memory_repo, id="memory")]
REGISTRY_FACTORIES = [pytest.param(memory_registry, id="memory")]
HOST_FACTORIES = [pytest.param(memory_host, id="memory")]
REALTIME_FACTORIES = [pytest.param(memory_realtime, id="memory")]
REPLIES_FACTORIES = [pytest.param(memory_replies, id="memory")]
AUTH_FACTORIES = [pytest.param(memory_auth, id="memory")]


def _from_factory(request: pytest.FixtureRequest) -> Iterator[Any]:
    factory: Callable[[], Iterator[Any]] = request.param
    yield from factory()


@pytest.fixture(params=REPO_FACTORIES)
def repo(request: pytest.FixtureRequest) -> Iterator[WorkflowRepo]:
    yield from _from_factory(request)


@pytest.fixture(params=REGISTRY_FACTORIES)
def registry(request: pytest.FixtureRequest) -> Iterator[ImageRegistry]:
    yield from _from_factory(request)


@pytest.fixture(params=HOST_FACTORIES)
def host(request: pytest.FixtureRequest) -> Iterator[FunctionHost]:
    yield from _from_factory(request)


@pytest.fixture(params=REALTIME_FACTORIES)
def realtime(request: pytest.FixtureRequest) -> Iterator[Realtime]:
    yield from _from_factory(request)


@pytest.fixture(params=REPLIES_FACTORIES)
def replies(request: pytest.FixtureRequest) -> Iterator[Replies]:
    yield from _from_factory(request)


@pytest.fixture(params=AUTH_FACTORIES)
def auth_harness(request: pytest.FixtureRequest) -> Iterator[AuthHarness]:
    yield from _from_factory(request)
