"""The local worker-process function host, in the FunctionHost contract suite."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import floww
from floww.adapters.local.function_host import LocalFunctionHost
from floww.adapters.local.sandbox import BwrapSandbox, probe_bwrap
from floww.adapters.local.uplink import SandboxNetwork
from floww.adapters.memory import FakeImageBuilder, InMemoryImageRegistry
from floww.domain.model import RuntimeTarget
from floww.ports.function_host import FunctionHost
from tests.integration.postgres import skip_or_fail

# The directory holding the floww package: workers import it from there when an image does
# not bring floww itself (the fake builder's images hold only a requirements listing).
FLOWW_SOURCE = str(Path(floww.__file__).resolve().parents[1])


def registry_with_image(repository: str = "img", tag: str = "tag") -> InMemoryImageRegistry:
    """A registry holding a small real image under ``repository:tag``."""
    registry = InMemoryImageRegistry()
    built = FakeImageBuilder().build(RuntimeTarget("linux/amd64", "3.11"), [])
    registry.push(repository, tag, built.image)
    return registry


def local_host() -> Iterator[FunctionHost]:
    with (
        tempfile.TemporaryDirectory(prefix="floww-images-") as cache,
        LocalFunctionHost(registry_with_image(), Path(cache), fallback_path=[FLOWW_SOURCE]) as host,
    ):
        yield host


def sandboxed_local_host() -> Iterator[FunctionHost]:
    """The same host with every worker in a bubblewrap sandbox (skipped where bubblewrap
    cannot run: the unsandboxed host above is then the one tested)."""
    with tempfile.TemporaryDirectory(prefix="floww-images-") as cache:
        sandbox = BwrapSandbox.for_python(
            sys.executable, import_path=[FLOWW_SOURCE], hidden=[Path(cache)]
        )
        problem = probe_bwrap(sandbox)
        if problem is not None:
            skip_or_fail(f"workers cannot be sandboxed here: {problem}")
        with LocalFunctionHost(
            registry_with_image(),
            Path(cache),
            fallback_path=[FLOWW_SOURCE],
            sandbox=sandbox,
            network=SandboxNetwork(("127.0.0.1", 9)),  # no server: the API leads nowhere
        ) as host:
            yield host


HOST_FACTORIES = [
    pytest.param(local_host, id="local", marks=pytest.mark.integration),
    pytest.param(sandboxed_local_host, id="local-sandboxed", marks=pytest.mark.integration),
]
