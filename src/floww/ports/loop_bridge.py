"""Synchronous code run by the event loop that may wait for it.

The use cases are synchronous. An entrypoint on the event loop runs one with
``await run_on_loop(fn, *args)``: ``fn`` runs on the loop's thread, in a greenlet of its own
for the call (one the thread kept from an earlier call, when there is one), and an adapter it
calls may hand the loop an awaitable with ``wait_on_loop(awaitable)``, which suspends ``fn``
(not the loop) until the awaitable is done and gives back its result or raises its
exception. Outside ``run_on_loop`` (on a thread, in a test), ``on_loop()`` is false and the
adapter does its blocking work instead: an adapter must always have both ways.

Blocking work reached from ``fn`` (a database read made the thread's way, a lock another
thread may hold) must not run on the loop's thread: ``off_loop(work, *args)`` runs it on a
thread of this module's own pool (``OFF_LOOP_THREADS``; not the loop's default executor,
which the end of ``asyncio.run`` waits for) while ``fn`` is suspended, and simply calls it
outside ``run_on_loop``. Work a cancelled caller no longer waits for still runs to its end.
A lock ``fn`` holds while it is suspended is held by the loop's thread: another call run on
the loop that takes it blocks the loop, and the holder can never resume. So work that takes
such a lock and waits inside it goes to ``off_loop`` as a whole.

``run_on_loop`` returns what ``fn`` returns and raises what it raises; ``fn`` sees the
caller's context variables (a copy). Cancelling the task that awaits it raises
``asyncio.CancelledError`` inside ``fn`` at the ``wait_on_loop`` it is suspended in.
``wait_on_loop`` outside ``run_on_loop`` raises ``RuntimeError``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import greenlet

__all__ = ["OwnThreads", "off_loop", "on_loop", "run_on_loop", "wait_on_loop"]

T = TypeVar("T")


class _OnLoop(greenlet.greenlet):
    """A greenlet ``run_on_loop`` runs functions in (so ``on_loop`` can tell), one after
    another: started once and kept by its thread (``IDLE_GREENLETS`` of them at most) when
    its function has returned, since starting a greenlet costs several times what switching
    to one does."""


class _Returned:
    """What a greenlet hands back when its function ended (anything else it hands back is an
    awaitable from ``wait_on_loop``)."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any, error: BaseException | None) -> None:
        self.value = value
        self.error = error


IDLE_GREENLETS = 64
"""Greenlets kept per thread for the next ``run_on_loop`` calls."""

_idle = threading.local()


_Work = tuple[Callable[..., Any], tuple[Any, ...], contextvars.Context]


def _serve(work: _Work | None) -> None:
    """The body of a kept greenlet: runs each function it is given in the context given with
    it, and hands back how it ended to whoever switched to it."""
    while True:
        assert work is not None
        fn, args, context = work
        try:
            ended = _Returned(context.run(fn, *args), None)
        except greenlet.GreenletExit:  # the greenlet is being discarded: it ends
            raise
        except BaseException as error:  # the caller's to raise
            ended = _Returned(None, error)
        del fn, args, context
        work = None  # nothing of the call is kept while the greenlet waits for the next
        parent = greenlet.getcurrent().parent
        assert parent is not None
        work = parent.switch(ended)


async def run_on_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the loop's thread, awaiting for it what it hands over with
    ``wait_on_loop``."""
    idle: list[_OnLoop] | None = getattr(_idle, "greenlets", None)
    if idle is None:
        idle = _idle.greenlets = []
    runner = idle.pop() if idle else _OnLoop(_serve)
    runner.parent = greenlet.getcurrent()
    handed = runner.switch((fn, args, contextvars.copy_context()))
    # an error raised here (not handed back by ``_serve``) means the greenlet ended: not kept
    while not isinstance(handed, _Returned):
        try:
            value = await handed
        except BaseException as error:  # raised in ``fn``, where it waited
            handed = runner.throw(error)
        else:
            handed = runner.switch(value)
    if len(idle) < IDLE_GREENLETS:
        idle.append(runner)
    # the kept greenlet's frame still refers to ``handed``: it must not keep the outcome
    failure, value = handed.error, handed.value
    handed.error = handed.value = None
    if failure is not None:
        raise failure
    return value  # type: ignore[no-any-return]


def on_loop() -> bool:
    """Whether the caller runs inside ``run_on_loop`` (so it may ``wait_on_loop``)."""
    return isinstance(greenlet.getcurrent(), _OnLoop)


def wait_on_loop(awaitable: Awaitable[T]) -> T:
    """The result of ``awaitable``, awaited by the event loop while the caller is suspended."""
    current = greenlet.getcurrent()
    if not isinstance(current, _OnLoop):
        if inspect.iscoroutine(awaitable):
            awaitable.close()  # never awaited: said so here, not by a warning later
        raise RuntimeError("wait_on_loop called outside run_on_loop")
    parent = current.parent
    assert parent is not None
    return parent.switch(awaitable)  # type: ignore[no-any-return]


def off_loop(work: Callable[..., T], *args: Any) -> T:
    """``work(*args)``: on a thread while the caller is suspended, when the caller runs inside
    ``run_on_loop``; called directly otherwise."""
    if not isinstance(greenlet.getcurrent(), _OnLoop):
        return work(*args)
    loop = asyncio.get_running_loop()
    return wait_on_loop(loop.run_in_executor(_threads(), functools.partial(work, *args)))


OFF_LOOP_THREADS = 32
"""Threads for ``off_loop`` work (started as needed): as many as the database pool's
connections, so work waiting for one never keeps other work from its thread."""


class OwnThreads:
    """A thread pool of its own (``count`` threads named ``prefix``), started at its first
    use, so its work is never queued behind other work."""

    def __init__(self, count: int, prefix: str) -> None:
        self._count = count
        self._prefix = prefix
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def __call__(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._count, thread_name_prefix=self._prefix)
        return self._pool


_threads = OwnThreads(OFF_LOOP_THREADS, "floww-off-loop")
