"""Calling the runtime entry in this process, through the runtime wire contract.

Requests are encoded with ``floww.sdk.wire`` and handed to ``floww.sdk.runtime.handle`` exactly
as a worker process or Lambda would receive them, so an in-process caller (the CLI running a
developer's code, the in-memory function host) exercises the same codec and loader as
production.
"""

from __future__ import annotations

import contextvars
import queue
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
_IDLE_RUNNERS = 8


class _Call:
    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.answer: Any = None
        self.error: BaseException | None = None


class _Runners:
    """Daemon threads that run calls with a deadline, kept between calls (starting a thread
    per call cost about as much as a small handler's whole run). A call takes an idle runner
    or starts one; a runner whose call overran its deadline finishes it in the background and
    only then becomes idle again. Each call runs in a fresh ``contextvars`` context, as on a
    new thread; ``threading.local`` state, though, stays with the runner for its next call
    (the userspace of one developer's session, or of the memory profile's host, which runs
    every tenant in one process anyway). At most ``_IDLE_RUNNERS`` idle runners are kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[_Call]] = []

    def start(self, work: Callable[[], Any]) -> _Call:
        call = _Call(work)
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(
                target=self._serve, args=(inbox,), name="floww-invocation", daemon=True
            ).start()
        inbox.put(call)
        return call

    def _serve(self, inbox: queue.SimpleQueue[_Call]) -> None:
        while True:
            call = inbox.get()
            try:
                call.answer = contextvars.Context().run(call.work)
            except BaseException as exc:  # reported to the caller
                call.error = exc
            with self._lock:  # idle before the caller hears: its next call may reuse it
                kept = len(self._idle) < _IDLE_RUNNERS
                if kept:
                    self._idle.append(inbox)
            call.done.set()
            if not kept:
                return


_runners = _Runners()


def call_runtime(
    payload: dict[str, Any], *, kv_backend: Any = None, deadline_ms: int | None = None
) -> dict[str, Any]:
    """Hand ``payload`` to the SDK runtime and return its answer.

    With a deadline the call runs on a daemon thread (``_Runners``) and ``DeadlineExceeded``
    is raised when it does not answer in time (the thread cannot be stopped; it finishes in the
    background, like an abandoned worker). A crash of the runtime entry itself is
    ``Unavailable``.
    """
    from floww.sdk import runtime  # deferred: importing it loads the whole runtime

    if deadline_ms is None:
        return _checked(_guarded(runtime.handle, payload, kv_backend))

    call = _runners.start(lambda: runtime.handle(payload, kv_backend=kv_backend))
    if not call.done.wait(max(deadline_ms, 0) / 1000 + _GRACE_SECONDS):
        raise DeadlineExceeded(f"the handler did not finish within {deadline_ms} ms")
    if call.error is not None:
        raise Unavailable(f"the runtime crashed: {call.error!r}") from call.error
    return _checked(call.answer)


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
