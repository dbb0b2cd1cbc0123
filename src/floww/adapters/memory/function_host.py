"""A function host that runs user code in this process, through the runtime wire contract
(``floww.sdk.inprocess``), so the in-memory path exercises the same codec and loader as
production."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import attrs

from floww.domain.errors import NotFound
from floww.domain.model import (
    CodeBundle,
    Definitions,
    Invocation,
    InvocationResult,
    Runtime,
    RuntimeStatus,
)
from floww.ports.function_host import FunctionHost
from floww.sdk import wire
from floww.sdk.inprocess import call_runtime, invoke_in_process

__all__ = ["InMemoryFunctionHost", "KvBackendFactory"]

KvBackendFactory = Callable[[Invocation], Any]


class InMemoryFunctionHost(FunctionHost):
    """Runtimes are records: ``create_runtime`` marks one READY, and every call on a runtime
    the host does not know raises ``NotFound``. ``invocations`` lists every invocation run.

    ``kv_backend_factory`` builds the ``ctx.kv`` backend for one invocation (``None`` leaves
    the SDK's default).
    """

    def __init__(self, kv_backend_factory: KvBackendFactory | None = None) -> None:
        self._kv_backend_factory = kv_backend_factory
        self._lock = threading.Lock()
        self._runtimes: dict[str, Runtime] = {}
        self.invocations: list[Invocation] = []

    def create_runtime(self, runtime: Runtime) -> Runtime:
        ready = attrs.evolve(runtime, status=RuntimeStatus.READY, error="")
        with self._lock:
            self._runtimes[runtime.id] = ready
        return ready

    def runtime_status(self, runtime: Runtime) -> RuntimeStatus:
        return self._known(runtime).status

    def get_definitions(
        self, runtime: Runtime, code: CodeBundle, providers: dict[str, dict[str, str]]
    ) -> Definitions:
        self._known(runtime)
        return wire.definitions_from_wire(call_runtime(wire.definitions_request(code, providers)))

    def invoke(self, runtime: Runtime, invocation: Invocation) -> InvocationResult:
        self._known(runtime)
        with self._lock:
            self.invocations.append(invocation)
        kv_backend = self._kv_backend_factory(invocation) if self._kv_backend_factory else None
        return invoke_in_process(invocation, kv_backend=kv_backend)

    def destroy_runtime(self, runtime: Runtime) -> None:
        with self._lock:
            if self._runtimes.pop(runtime.id, None) is None:
                raise NotFound("runtime", runtime.id)

    def _known(self, runtime: Runtime) -> Runtime:
        with self._lock:
            known = self._runtimes.get(runtime.id)
        if known is None:
            raise NotFound("runtime", runtime.id)
        return known
