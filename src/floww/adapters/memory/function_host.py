"""A function host that runs user code in this process, through the runtime wire contract.

Requests are encoded with ``floww.sdk.wire`` and handed to ``floww.sdk.runtime.handle``
exactly as a worker process or Lambda would receive them, so the in-process path exercises the
same codec and loader as production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import attrs

from floww.domain.errors import DeadlineExceeded, FlowwError, Unavailable
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

__all__ = ["InMemoryFunctionHost", "KvBackendFactory", "call_runtime", "invoke_in_process"]

KvBackendFactory = Callable[[Invocation], Any]

# Past the deadline the runtime gets a moment to answer for itself (it bounds async handlers
# and reports their logs) before the host gives up on it.
_GRACE_SECONDS = 0.05


def call_runtime(
    payload: dict[str, Any], *, kv_backend: Any = None, deadline_ms: int | None = None
) -> dict[str, Any]:
    """Hand ``payload`` to the SDK runtime and return its answer.

    With a deadline the call runs on a daemon thread and ``DeadlineExceeded`` is raised when it
    does not answer in time (the thread cannot be stopped; it finishes in the background, like
    an abandoned worker). A crash of the runtime entry itself is ``Unavailable``.
    """
    from floww.sdk import runtime  # deferred: the server imports this module without the SDK

    if deadline_ms is None:
        return _checked(_guarded(runtime.handle, payload, kv_backend))

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["answer"] = runtime.handle(payload, kv_backend=kv_backend)
        except BaseException as exc:  # reported to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="floww-invocation", daemon=True)
    worker.start()
    worker.join(max(deadline_ms, 0) / 1000 + _GRACE_SECONDS)
    if worker.is_alive():
        raise DeadlineExceeded(f"the handler did not finish within {deadline_ms} ms")
    if "error" in outcome:
        raise Unavailable(f"the runtime crashed: {outcome['error']!r}") from outcome["error"]
    return _checked(outcome.get("answer"))


def invoke_in_process(invocation: Invocation, *, kv_backend: Any = None) -> InvocationResult:
    """Run one invocation through the runtime; ``DeadlineExceeded`` past its deadline."""
    answer = call_runtime(
        wire.invocation_to_wire(invocation),
        kv_backend=kv_backend,
        deadline_ms=invocation.execution.deadline_ms,
    )
    result = wire.result_from_wire(answer)
    if not result.ok and result.error is not None and result.error.type == "DeadlineExceeded":
        raise DeadlineExceeded(result.error.message or "the handler ran past its deadline")
    return result


def _guarded(handle: Callable[..., Any], payload: dict[str, Any], kv_backend: Any) -> Any:
    try:
        return handle(payload, kv_backend=kv_backend)
    except Exception as exc:
        raise Unavailable(f"the runtime crashed: {exc!r}") from exc


def _checked(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise Unavailable(f"the runtime answered {type(answer).__name__}, not an object")
    return answer


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
