"""The ``ImageBuilder`` and ``UserspaceRunner`` suites' adapters.

- ``fake``: ``FakeImageBuilder`` (a real, tiny image listing the requirements).
- ``pip``: ``PipImageBuilder`` with the machine's pip for the embedded target (the package
  index as configured here; skipped without one, failed when CI is "true"), floww's wheel
  built once per session.
- ``in-process``: ``InProcessRunner``, the runner ``floww dev`` uses.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from floww.adapters.inprocess import InProcessRunner
from floww.adapters.local.image_builder import PipImageBuilder, embedded_target
from floww.adapters.local.wheel import FlowwWheel, build_floww_wheel
from floww.adapters.memory import FakeImageBuilder
from floww.domain.errors import Unavailable
from floww.domain.model import RuntimeTarget
from floww.ports.support import BuiltImage
from floww.ports.userspace import UserspaceRunner
from floww.sdk.kv import InMemoryKvBackend
from floww.testing.contracts.image_builder import ImageBuilderHarness


def fake_builder() -> Iterator[ImageBuilderHarness]:
    yield ImageBuilderHarness(FakeImageBuilder(), RuntimeTarget("linux/amd64", "3.12"))


@functools.cache
def _wheel() -> FlowwWheel:
    return build_floww_wheel()


class _IndexOrSkip(PipImageBuilder):
    """Skips the test (fails it in CI) when the package index cannot be reached."""

    def build(self, target: RuntimeTarget, requirements: Sequence[str]) -> BuiltImage:
        try:
            return super().build(target, requirements)
        except Unavailable as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(f"the package index must be reachable in CI: {exc}")
            pytest.skip(f"the package index is not reachable: {exc}")


def pip_builder() -> Iterator[ImageBuilderHarness]:
    with tempfile.TemporaryDirectory(prefix="floww-pip-") as cache:
        builder = _IndexOrSkip(Path(cache), floww_wheel=_wheel(), timeout=120)
        yield ImageBuilderHarness(builder, embedded_target())


def in_process_runner() -> Iterator[UserspaceRunner]:
    yield InProcessRunner(kv_backend=InMemoryKvBackend())


IMAGE_BUILDER_FACTORIES = [
    pytest.param(fake_builder, id="fake"),
    pytest.param(pip_builder, id="pip", marks=pytest.mark.integration),
]
RUNNER_FACTORIES = [pytest.param(in_process_runner, id="in-process")]
