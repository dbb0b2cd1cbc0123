"""The in-memory adapters, in every contract suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from floww.adapters.inprocess import ProcessReplies
from floww.adapters.memory import (
    FakeImageBuilder,
    InMemoryFunctionHost,
    InMemoryIdentity,
    InMemoryImageRegistry,
    InMemoryPlatformTokens,
    InMemoryRealtime,
    InMemoryWorkflowRepo,
    ManualClock,
)
from floww.domain.model import RuntimeTarget
from floww.ports.function_host import FunctionHost
from floww.ports.image_registry import ImageRegistry
from floww.ports.realtime import Realtime
from floww.ports.replies import Replies
from floww.ports.workflow_repo import WorkflowRepo
from floww.testing.contracts.harness import AuthHarness
from floww.testing.contracts.users import UsersHarness


def memory_repo() -> Iterator[WorkflowRepo]:
    yield InMemoryWorkflowRepo()


def memory_registry() -> Iterator[ImageRegistry]:
    yield InMemoryImageRegistry()


def memory_host() -> Iterator[FunctionHost]:
    """Over a registry that holds ``img:tag`` only, as the local host's suite has it."""
    registry = InMemoryImageRegistry()
    built = FakeImageBuilder().build(RuntimeTarget("linux/amd64", "3.11"), [])
    registry.push("img", "tag", built.image)
    yield InMemoryFunctionHost(registry=registry)


def memory_realtime() -> Iterator[Realtime]:
    yield InMemoryRealtime()


def memory_replies() -> Iterator[Replies]:
    yield ProcessReplies()


def memory_auth() -> Iterator[AuthHarness]:
    clock = ManualClock()
    auth = InMemoryIdentity(clock)
    yield AuthHarness(
        auth=auth, clock=clock, make_user=auth.create_user, tokens=InMemoryPlatformTokens(clock)
    )


REPO_FACTORIES = [pytest.param(memory_repo, id="memory")]
REGISTRY_FACTORIES = [pytest.param(memory_registry, id="memory")]
HOST_FACTORIES = [pytest.param(memory_host, id="memory")]
REALTIME_FACTORIES = [pytest.param(memory_realtime, id="memory")]
REPLIES_FACTORIES = [pytest.param(memory_replies, id="memory")]
AUTH_FACTORIES = [pytest.param(memory_auth, id="memory")]


REPO_FACTORIES = [pytest.param(memory_repo, id="memory")]
REGISTRY_FACTORIES = [pytest.param(memory_registry, id="memory")]
HOST_FACTORIES = [pytest.param(memory_host, id="memory")]
REALTIME_FACTORIES = [pytest.param(memory_realtime, id="memory")]
REPLIES_FACTORIES = [pytest.param(memory_replies, id="memory")]
AUTH_FACTORIES = [pytest.param(memory_auth, id="memory")]
API_KEYS_FACTORIES = [pytest.param(memory_auth, id="memory")]


def memory_users() -> Iterator[UsersHarness]:
    auth = InMemoryIdentity(ManualClock())
    yield UsersHarness(users=auth, sign_in=auth.issue_token)


USERS_FACTORIES = [pytest.param(memory_users, id="memory")]
