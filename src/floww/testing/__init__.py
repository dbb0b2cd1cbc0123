"""Testing support shipped with floww.

- ``floww.testing.contracts``: the contract suite of every port, to run against an adapter of
  your own (each suite's module docstring names the fixture it needs).
- ``load_workflow`` / the ``floww_workflow`` pytest fixture (``floww.testing.plugin``): load a
  workflow module and fire its triggers in memory, with provider actions recorded by
  ``FakeProviders`` instead of sent.
- The in-memory adapters of every port, re-exported from ``floww.adapters.memory``, for tests
  and for embedding floww.

pytest is needed only by the contract suites and the plugin (``pip install floww[testing]``).
"""

from floww.adapters.memory import (
    FakeImageBuilder,
    InMemoryFunctionHost,
    InMemoryIdentity,
    InMemoryImageRegistry,
    InMemoryPlatformTokens,
    InMemoryRealtime,
    InMemorySecretBox,
    InMemoryWorkflowRepo,
    ManualClock,
    ScriptedPrompter,
    SequentialIds,
)
from floww.testing.providers import FakeProviders, ProviderCall
from floww.testing.workflow import NoMatchingTrigger, Run, WorkflowUnderTest, load_workflow

__all__ = [
    "FakeImageBuilder",
    "FakeProviders",
    "InMemoryFunctionHost",
    "InMemoryIdentity",
    "InMemoryImageRegistry",
    "InMemoryPlatformTokens",
    "InMemoryRealtime",
    "InMemorySecretBox",
    "InMemoryWorkflowRepo",
    "ManualClock",
    "NoMatchingTrigger",
    "ProviderCall",
    "Run",
    "ScriptedPrompter",
    "SequentialIds",
    "WorkflowUnderTest",
    "load_workflow",
]
