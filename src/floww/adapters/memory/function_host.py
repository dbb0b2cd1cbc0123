"""A function host that runs user code in this process, through the runtime wire contract
(``floww.sdk.inprocess``), so the in-memory path exercises the same codec and loader as
production."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import attrs

from floww.domain.errors import FlowwError, Unavailable
from floww.domain.model import (
    CodeBundle,
    Definitions,
    Invocation,
    InvocationResult,
    Runtime,
    RuntimeStatus,
)
from floww.ports.function_host import FunctionHost
from floww.ports.image_registry import ImageRegistry
from floww.sdk import wire
from floww.sdk.inprocess import call_runtime, invoke_in_process

__all__ = ["InMemoryFunctionHost", "KvBackendFactory"]

KvBackendFactory = Callable[[Invocation], Any]


class InMemoryFunctionHost(FunctionHost):
    """Runtimes are records: any call on a runtime materializes it, READY when ``registry``
    holds its image (or when there is no registry to ask), FAILED otherwise; ``create_runtime``
    is idempotent, and a second host over the same registry runs what the first created.
    ``invocations`` lists every invocation run.

    ``kv_backend_factory`` builds the ``ctx.kv`` backend for one invocation (``None`` leaves
    the SDK's default).
    """

    def __init__(
        self,
        kv_backend_factory: KvBackendFactory | None = None,
        registry: ImageRegistry | None = None,
    ) -> None:
        self._kv_backend_factory = kv_backend_factory
        self._registry = registry
        self._lock = threading.Lock()
        self._runtimes: dict[str, Runtime] = {}
        self.invocations: list[Invocation] = []

    def create_runtime(self, runtime: Runtime) -> Runtime:
        with self._lock:
            known = self._runtimes.get(runtime.id)
        if (
            known is not None
            and known.image_ref == runtime.image_ref
            and known.status is RuntimeStatus.READY
        ):
            return known
        problem = self._image_problem(runtime.image_ref)
        if problem:
            made = attrs.evolve(runtime, status=RuntimeStatus.FAILED, error=problem)
        else:
            made = attrs.evolve(runtime, status=RuntimeStatus.READY, error="")
        with self._lock:
            self._runtimes[runtime.id] = made
        return made

    def runtime_status(self, runtime: Runtime) -> RuntimeStatus:
        return self._known(runtime).status

    def get_definitions(
        self, runtime: Runtime, code: CodeBundle, providers: dict[str, dict[str, str]]
    ) -> Definitions:
        self._ready(runtime)
        return wire.definitions_from_wire(call_runtime(wire.definitions_request(code, providers)))

    def invoke(self, runtime: Runtime, invocation: Invocation) -> InvocationResult:
        self._ready(runtime)
        with self._lock:
            self.invocations.append(invocation)
        kv_backend = self._kv_backend_factory(invocation) if self._kv_backend_factory else None
        return invoke_in_process(invocation, kv_backend=kv_backend)

    def start(self, runtime: Runtime, invocation: Invocation) -> bool:
        """Runs are always synchronous here: the caller invokes."""
        return False

    def destroy_runtime(self, runtime: Runtime) -> None:
        with self._lock:
            self._runtimes.pop(runtime.id, None)

    def _image_problem(self, image_ref: str) -> str:
        if self._registry is None:
            return ""
        if "@" in image_ref:
            repository, _, reference = image_ref.partition("@")
        else:
            repository, _, reference = image_ref.rpartition(":")
        try:
            self._registry.pull(repository, reference)
        except FlowwError:
            return f"image not found: {image_ref}"
        return ""

    def _known(self, runtime: Runtime) -> Runtime:
        with self._lock:
            known = self._runtimes.get(runtime.id)
        if known is None or known.image_ref != runtime.image_ref:
            return self.create_runtime(runtime)
        return known

    def _ready(self, runtime: Runtime) -> None:
        known = self._known(runtime)
        if known.status is not RuntimeStatus.READY:
            raise Unavailable(f"runtime {runtime.id} failed: {known.error}")
