"""The event loop's wait for a lane (``_LoopLanes`` over a real ``ThreadDispatcher``): first
come first served, woken by a lane freed on the loop or on a lane's thread, refused once the
dispatcher closes, and given up at the caller's deadline."""

from __future__ import annotations

import asyncio
import threading

import pytest

from floww.adapters.local.dispatcher import ThreadDispatcher
from floww.domain.errors import Unavailable
from floww.entrypoints.http.webhooks import _LoopLanes


def test_waiters_take_freed_lanes_in_their_order() -> None:
    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=10)

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        lanes = _LoopLanes(loop, dispatcher)
        holder = dispatcher.reserve("wf")
        assert await lanes.claim(holder, "wf", loop.time() + 5)
        order: list[str] = []

        async def wait(name: str) -> None:
            slot = dispatcher.reserve("wf")
            assert await lanes.claim(slot, "wf", loop.time() + 5)
            order.append(name)
            await asyncio.sleep(0.01)
            slot.release()

        first = asyncio.create_task(wait("first"))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(wait("second"))
        await asyncio.sleep(0.01)
        assert order == []  # the one lane is held
        holder.release()
        await asyncio.gather(first, second)
        return order

    assert asyncio.run(scenario()) == ["first", "second"]
    dispatcher.close()


def test_a_lane_freed_by_a_thread_wakes_the_loop() -> None:
    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=10)
    running = threading.Event()
    go_on = threading.Event()

    def work() -> None:
        running.set()
        go_on.wait(5)

    async def scenario() -> bool:
        loop = asyncio.get_running_loop()
        lanes = _LoopLanes(loop, dispatcher)
        dispatcher.reserve("wf").submit(work)  # a run on a lane's thread
        await loop.run_in_executor(None, running.wait, 5)
        slot = dispatcher.reserve("wf")
        waiting = asyncio.create_task(lanes.claim(slot, "wf", loop.time() + 5))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        go_on.set()  # the thread's run ends and frees the lane
        claimed = await asyncio.wait_for(waiting, 5)
        slot.release()
        return claimed

    assert asyncio.run(scenario()) is True
    dispatcher.close()


def test_waiters_are_refused_when_the_dispatcher_closes_and_give_up_at_the_deadline() -> None:
    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=10)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        lanes = _LoopLanes(loop, dispatcher)
        holder = dispatcher.reserve("wf")
        assert await lanes.claim(holder, "wf", loop.time() + 5)
        late = dispatcher.reserve("wf")
        assert await lanes.claim(late, "wf", loop.time() + 0.05) is False
        late.release()
        slot = dispatcher.reserve("wf")
        waiting = asyncio.create_task(lanes.claim(slot, "wf", loop.time() + 5))
        await asyncio.sleep(0.02)
        await loop.run_in_executor(None, dispatcher.close)
        with pytest.raises(Unavailable):
            await asyncio.wait_for(waiting, 5)
        slot.release()
        holder.release()

    asyncio.run(scenario())


def test_lanes_freed_together_go_to_as_many_waiters() -> None:
    """Two lanes free at once: the first two waiters both get one, in order, at once."""
    dispatcher = ThreadDispatcher(concurrency=2, queue_limit=10)

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        lanes = _LoopLanes(loop, dispatcher)
        held = [dispatcher.reserve("wf") for _ in range(2)]
        for slot in held:
            assert await lanes.claim(slot, "wf", loop.time() + 5)
        order: list[str] = []
        release = asyncio.Event()

        async def wait(name: str) -> None:
            slot = dispatcher.reserve("wf")
            assert await lanes.claim(slot, "wf", loop.time() + 5)
            order.append(name)
            await release.wait()
            slot.release()

        waiters = []
        for name in ("a", "b", "c"):
            waiters.append(asyncio.create_task(wait(name)))
            await asyncio.sleep(0.01)
        for slot in held:
            slot.release()
        await asyncio.sleep(0.05)
        got = list(order)  # c waits: two lanes only
        release.set()
        await asyncio.gather(*waiters)
        return got + order[2:]

    assert asyncio.run(scenario()) == ["a", "b", "c"]
    dispatcher.close()


def test_a_run_gives_its_lane_back_once_the_handler_ended_before_its_outcome_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``_run_claimed``: while the outcome is being written (a commit's wait on PostgreSQL),
    the lane is already free for the next call."""
    from types import SimpleNamespace

    import anyio

    from floww.domain.model import ExecutionStatus
    from floww.entrypoints.http import webhooks

    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=10)
    seen: list[str] = []
    execution = SimpleNamespace(id="exe_1")
    final = SimpleNamespace(status=ExecutionStatus.COMPLETED)
    prepared = SimpleNamespace(runtime="runtime", invocation="invocation")

    class Host:
        async def invoke_async(self, runtime: object, invocation: object, limiter: object) -> str:
            seen.append("handler")
            return "result"

    def finish_run(deps: object, run: object, result: object) -> object:
        other = dispatcher.reserve("wf")  # the next call takes the lane now
        seen.append(f"outcome written, lane free: {other.claim_lane()}")
        other.release()
        return final

    monkeypatch.setattr(
        webhooks, "record_on_claimed_lane", lambda *a: (execution, "dep", "trg", "wf", "rt")
    )
    monkeypatch.setattr(webhooks, "prepare_run", lambda *a: prepared)
    monkeypatch.setattr(webhooks, "finish_run", finish_run)
    monkeypatch.setattr(webhooks, "response_for", lambda run: ("answered", run))
    deps = SimpleNamespace(host=Host(), repo=SimpleNamespace())

    async def scenario() -> object:
        loop = asyncio.get_running_loop()
        slot = dispatcher.reserve("wf")
        assert slot.claim_lane()
        return await webhooks._run_claimed(
            deps,  # type: ignore[arg-type]
            SimpleNamespace(workflow_id="wf"),  # type: ignore[arg-type]
            SimpleNamespace(),  # type: ignore[arg-type]
            slot,
            [],
            loop.create_future(),
            anyio.CapacityLimiter(1),
        )

    assert asyncio.run(scenario()) == ("answered", final)
    assert seen == ["handler", "outcome written, lane free: True"]
    dispatcher.close()
