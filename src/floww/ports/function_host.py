"""FunctionHost: runs deployed user code.

A host is a cache: a runtime is a durable record (its image reference) that every call carries,
and a host that has not seen it yet (after a restart, on a second replica) materializes it from
its image on first use and keeps it warm. Nothing a host forgets can fail a deploy or a run.

- ``create_runtime`` prepares the runtime's image and returns it READY, or FAILED with an
  error; it never leaves it PENDING without a way to learn more from ``runtime_status``.
  It is idempotent.
- ``get_definitions`` loads the code and returns what it declares; ``UserCodeError`` when the
  code does not load.
- ``invoke`` runs one trigger; a handler that raises gives ``InvocationResult(ok=False)``;
  ``DeadlineExceeded`` when it runs past ``execution.deadline_ms``; ``Unavailable`` when the
  host itself failed (crashed worker, unreachable service) and for a FAILED runtime.
- ``start`` hands one trigger's run over without waiting for it, when the host can: ``True``
  means the host started it and the runtime will report its answer itself
  (``POST /api/executions/<id>/report`` with the execution's token), ``False`` that this host
  only runs synchronously and the caller must ``invoke``. Errors as ``invoke``'s for what
  stopped the start (throttled, unreachable, FAILED runtime).
- ``destroy_runtime`` releases what the host holds for the runtime (idempotent); a later call
  materializes it again.
"""

from __future__ import annotations

from typing import Protocol

from floww.domain.model import (
    CodeBundle,
    Definitions,
    Invocation,
    InvocationResult,
    Runtime,
    RuntimeStatus,
)

__all__ = ["FunctionHost"]


class FunctionHost(Protocol):
    def create_runtime(self, runtime: Runtime) -> Runtime: ...

    def runtime_status(self, runtime: Runtime) -> RuntimeStatus: ...

    def get_definitions(
        self, runtime: Runtime, code: CodeBundle, providers: dict[str, dict[str, str]]
    ) -> Definitions: ...

    def invoke(self, runtime: Runtime, invocation: Invocation) -> InvocationResult: ...

    def start(self, runtime: Runtime, invocation: Invocation) -> bool: ...

    def destroy_runtime(self, runtime: Runtime) -> None: ...
