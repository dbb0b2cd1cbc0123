"""Calling the runtime entry in this process, through the runtime wire contract.

Requests are encoded with ``floww.sdk.wire`` and handed to ``floww.sdk.runtime.handle`` exactly
as a worker process or Lambda would receive them, so an in-process caller (the CLI running a
developer's code, the in-memory function host) exercises the same codec and loader as
production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from floww.domain.errors import DeadlineExceeded, Unavailable
from floww.domain.model import Invocation, InvocationResult
from floww.sdk import wire

__all__ = ["call_runtime", "invoke_in_process"]

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
    from floww.sdk import runtime  # deferred: importing it loads the whole runtime

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
