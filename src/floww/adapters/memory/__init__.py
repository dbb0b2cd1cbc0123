"""Complete in-memory fakes of the ports: fast, thread-safe, and held to the same contract
suites as the real adapters. Shipped for tests (including users' own) and embedding. The
in-process pieces that also serve in production (system clock, random ids, the reply
rendezvous, the in-process userspace runner) live in ``floww.adapters.inprocess``."""

from floww.adapters.memory.clock import ManualClock
from floww.adapters.memory.dev_sessions import InMemoryDevSessions
from floww.adapters.memory.function_host import InMemoryFunctionHost
from floww.adapters.memory.identity import InMemoryIdentity
from floww.adapters.memory.ids import SequentialIds
from floww.adapters.memory.image_builder import FakeImageBuilder
from floww.adapters.memory.image_registry import InMemoryImageRegistry
from floww.adapters.memory.platform_tokens import InMemoryPlatformTokens
from floww.adapters.memory.prompter import ScriptedPrompter
from floww.adapters.memory.realtime import InMemoryRealtime, InMemorySubscription
from floww.adapters.memory.secret_box import InMemorySecretBox
from floww.adapters.memory.workflow_repo import InMemoryWorkflowRepo

__all__ = [
    "FakeImageBuilder",
    "InMemoryDevSessions",
    "InMemoryFunctionHost",
    "InMemoryIdentity",
    "InMemoryImageRegistry",
    "InMemoryPlatformTokens",
    "InMemoryRealtime",
    "InMemorySecretBox",
    "InMemorySubscription",
    "InMemoryWorkflowRepo",
    "ManualClock",
    "ScriptedPrompter",
    "SequentialIds",
]
