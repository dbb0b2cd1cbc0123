"""The threads that run in-process invocations with a deadline (``floww.sdk.inprocess``): kept
between calls, never handed a second call while one runs, each call in a fresh context."""

from __future__ import annotations

import contextvars
import threading

from floww.sdk.inprocess import _Runners


def test_a_call_past_its_deadline_holds_no_one_else_up() -> None:
    runners = _Runners()
    gate = threading.Event()
    slow = runners.start(gate.wait)
    assert not slow.done.wait(0.05)  # the caller gives up on it; it runs on
    fast = runners.start(lambda: 42)
    assert fast.done.wait(5) and fast.answer == 42
    gate.set()
    assert slow.done.wait(5) and slow.answer is True


def test_a_failure_is_handed_to_the_caller() -> None:
    call = _Runners().start(lambda: 1 / 0)
    assert call.done.wait(5)
    assert isinstance(call.error, ZeroDivisionError)


def test_each_call_starts_from_a_fresh_context_on_a_kept_thread() -> None:
    runners = _Runners()
    seen = contextvars.ContextVar("seen", default="unset")

    def mark() -> str:
        seen.set("set by the first call")
        return threading.current_thread().name + str(threading.get_ident())

    first = runners.start(mark)
    assert first.done.wait(5)
    second = runners.start(
        lambda: (threading.current_thread().name + str(threading.get_ident()), seen.get())
    )
    assert second.done.wait(5)
    assert second.answer == (first.answer, "unset")  # the same thread, a fresh context
