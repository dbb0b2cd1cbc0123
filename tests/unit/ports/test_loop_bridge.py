"""``run_on_loop``: synchronous code on the event loop's thread that waits for the loop."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import time
import weakref

import greenlet
import pytest

from floww.ports.loop_bridge import off_loop, on_loop, run_on_loop, wait_on_loop


async def _later(value: int, error: BaseException | None = None) -> int:
    await asyncio.sleep(0.01)
    if error is not None:
        raise error
    return value


def _adds(first: int, second: int) -> tuple[int, bool, int]:
    # waits twice, on the loop's thread, while other tasks run
    total = wait_on_loop(_later(first)) + wait_on_loop(_later(second))
    return total, on_loop(), threading.get_ident()


def test_the_function_waits_for_the_loop_on_its_thread() -> None:
    async def main() -> None:
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        ticker = asyncio.create_task(ticking())
        await asyncio.sleep(0)
        before = ticks
        total, inside, thread = await run_on_loop(_adds, 2, 3)
        ticker.cancel()
        assert (total, inside, thread) == (5, True, threading.get_ident())
        assert ticks > before  # the loop ran other tasks while the function waited
        assert not on_loop()

    asyncio.run(main())


def test_errors_reach_the_function_where_it_waits_and_then_the_caller() -> None:
    seen: list[str] = []

    def handles() -> str:
        try:
            wait_on_loop(_later(0, ValueError("refused")))
        except ValueError as error:
            seen.append(str(error))
        return "handled"

    def raises() -> None:
        wait_on_loop(_later(0, KeyError("lost")))

    async def main() -> None:
        assert await run_on_loop(handles) == "handled"
        with pytest.raises(KeyError):
            await run_on_loop(raises)

    asyncio.run(main())
    assert seen == ["refused"]


def test_a_cancelled_caller_cancels_the_wait_inside_the_function() -> None:
    cleaned: list[bool] = []

    def waits_long() -> None:
        try:
            wait_on_loop(asyncio.sleep(30))
        finally:
            cleaned.append(True)

    async def main() -> None:
        task = asyncio.create_task(run_on_loop(waits_long))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cleaned == [True]


def test_functions_without_waits_and_waits_outside_are_told_apart() -> None:
    assert asyncio.run(run_on_loop(lambda a: a * 2, 21)) == 42
    assert not on_loop()
    with pytest.raises(RuntimeError, match="outside run_on_loop"):
        wait_on_loop(_later(1))


def test_blocking_work_goes_to_a_thread_only_from_the_loop() -> None:
    def where() -> int:
        time.sleep(0.02)
        return threading.get_ident()

    assert off_loop(where) == threading.get_ident()  # outside: called directly

    async def main() -> tuple[int, int]:
        return await run_on_loop(off_loop, where), threading.get_ident()

    worker, loop_thread = asyncio.run(main())
    assert worker != loop_thread


_seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="unset")


def test_greenlets_are_kept_for_later_calls_each_call_alone_in_its_own_context() -> None:
    """A call that ended (returned or raised) leaves its greenlet to the next call; calls
    under way at once each have one; a context variable set by one call is not seen by the
    next, which sees its caller's."""

    def which(tag: str) -> tuple[greenlet.greenlet, str]:
        before = _seen.get()
        _seen.set(tag)
        wait_on_loop(asyncio.sleep(0.01))
        assert _seen.get() == tag
        return greenlet.getcurrent(), before

    def fails() -> int:
        wait_on_loop(asyncio.sleep(0))
        raise LookupError("no")

    async def main() -> None:
        _seen.set("caller")
        first, before = await run_on_loop(which, "a")
        assert before == "caller"
        with pytest.raises(LookupError):
            await run_on_loop(fails)
        second, before = await run_on_loop(which, "b")
        assert before == "caller"  # not "a": each call has a copy of its caller's context
        assert second is first  # the same greenlet, kept
        together = await asyncio.gather(*(run_on_loop(which, str(i)) for i in range(3)))
        assert len({id(runner) for runner, _ in together}) == 3
        assert _seen.get() == "caller"

    asyncio.run(main())


class _Payload:
    """An argument or a result whose lifetime a test follows."""


def test_a_kept_greenlet_keeps_nothing_of_the_call_it_ran() -> None:
    def echo(payload: _Payload) -> _Payload:
        wait_on_loop(asyncio.sleep(0))
        return _Payload()

    async def main() -> tuple[weakref.ref[_Payload], weakref.ref[_Payload]]:
        argument = _Payload()
        result = await run_on_loop(echo, argument)
        return weakref.ref(argument), weakref.ref(result)

    argument, result = asyncio.run(main())
    gc.collect()
    assert argument() is None and result() is None
