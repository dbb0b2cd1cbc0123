"""Complete in-memory adapters of every port: fast, thread-safe, and held to the same contract
suites as the real adapters. Shipped for tests (including users' own) and embedding."""

from floww.adapters.memory.auth import InMemoryAuth
from floww.adapters.memory.clock import ManualClock, SystemClock
from floww.adapters.memory.dev_sessions import InMemoryDevSessions
from floww.adapters.memory.function_host import InMemoryFunctionHost
from floww.adapters.memory.ids import RandomIds, SequentialIds
from floww.adapters.memory.image_builder import FakeImageBuilder
from floww.adapters.memory.image_registry import InMemoryImageRegistry
from floww.adapters.memory.prompter import ScriptedPrompter
from floww.adapters.memory.realtime import InMemoryRealtime, InMemorySubscription
from floww.adapters.memory.replies import InMemoryReplies
from floww.adapters.memory.secret_box import InMemorySecretBox
from floww.adapters.memory.userspace import InProcessRunner
from floww.adapters.memory.workflow_repo import InMemoryWorkflowRepo

__all__ = [
    "FakeImageBuilder",
    "InMemoryAuth",
    "InMemoryDevSessions",
    "InMemoryFunctionHost",
    "InMemoryImageRegistry",
    "InMemoryRealtime",
    "InMemoryReplies",
    "InMemorySecretBox",
    "InMemorySubscription",
    "InMemoryWorkflowRepo",
    "InProcessRunner",
    "ManualClock",
    "RandomIds",
    "ScriptedPrompter",
    "SequentialIds",
    "SystemClock",
]
