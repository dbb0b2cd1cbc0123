"""ThreadDispatcher: per-key concurrency, a bounded queue in front, threads that come and go."""

from __future__ import annotations

import threading
import time

import pytest

from floww.adapters.local.dispatcher import ThreadDispatcher
from floww.domain.errors import Overloaded, Unavailable


def wait_for(condition: object, timeout: float = 5.0) -> bool:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if callable(condition) and condition():
            return True
        time.sleep(0.01)
    return False


def test_a_busy_key_never_holds_up_another() -> None:
    dispatcher = ThreadDispatcher(concurrency=2, queue_limit=10, idle_s=1.0)
    gate = threading.Event()
    slow = [dispatcher.reserve("slow").submit(gate.wait) for _ in range(6)]
    assert wait_for(lambda: dispatcher.stats("slow") == {"threads": 2, "busy": 2, "waiting": 4})
    fast = dispatcher.reserve("fast").submit(lambda: "done")
    assert fast.result(timeout=2) == "done"
    gate.set()
    assert all(f.result(timeout=5) for f in slow)
    dispatcher.close()


def test_a_full_queue_is_refused_with_a_retry_hint_and_nothing_is_lost() -> None:
    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=2, retry_after_s=3)
    gate = threading.Event()
    taken = [dispatcher.reserve("wf") for _ in range(3)]
    with pytest.raises(Overloaded) as info:
        dispatcher.reserve("wf")
    assert info.value.retry_after_s == 3
    futures = [slot.submit(gate.wait) for slot in taken]
    gate.set()
    assert [f.result(timeout=5) for f in futures] == [True, True, True]
    dispatcher.reserve("wf").release()  # room again
    dispatcher.close()


def test_a_released_slot_frees_its_place() -> None:
    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=0)
    slot = dispatcher.reserve("wf")
    with pytest.raises(Overloaded):
        dispatcher.reserve("wf")
    slot.release()
    slot.release()  # idempotent
    assert dispatcher.reserve("wf").submit(lambda: 7).result(timeout=5) == 7
    dispatcher.close()


def test_threads_grow_to_the_limit_and_end_when_idle() -> None:
    dispatcher = ThreadDispatcher(concurrency=3, queue_limit=10, idle_s=0.2)
    gate = threading.Event()
    futures = [dispatcher.reserve("wf").submit(gate.wait) for _ in range(5)]
    assert wait_for(lambda: dispatcher.stats("wf")["busy"] == 3)
    assert dispatcher.stats("wf")["threads"] == 3
    gate.set()
    assert all(f.result(timeout=5) for f in futures)
    assert wait_for(lambda: dispatcher.stats("wf")["threads"] == 0)
    assert dispatcher.reserve("wf").submit(lambda: "again").result(timeout=5) == "again"
    dispatcher.close()


def test_errors_travel_in_the_future() -> None:
    dispatcher = ThreadDispatcher()

    def boom() -> None:
        raise ValueError("kaput")

    with pytest.raises(ValueError, match="kaput"):
        dispatcher.reserve("wf").submit(boom).result(timeout=5)
    dispatcher.close()


def test_close_cancels_waiting_work_and_refuses_more() -> None:
    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=5)
    gate = threading.Event()
    running = dispatcher.reserve("wf").submit(gate.wait)
    assert wait_for(lambda: dispatcher.stats("wf")["busy"] == 1)
    waiting = dispatcher.reserve("wf").submit(lambda: "never")
    dispatcher.close()
    assert waiting.cancelled()
    with pytest.raises(Unavailable):
        dispatcher.reserve("wf")
    gate.set()
    assert running.result(timeout=5) is True


def test_a_claimed_lane_is_held_for_its_work_and_never_taken_by_other_work() -> None:
    dispatcher = ThreadDispatcher(concurrency=2, queue_limit=10, idle_s=1.0)
    gate = threading.Event()
    busy = dispatcher.reserve("wf").submit(gate.wait)
    claimed = dispatcher.reserve("wf")
    assert claimed.claim_lane()  # one lane of two is free
    assert not dispatcher.reserve("wf").claim_lane()  # the other one is claimed: none free
    # Work submitted meanwhile waits: the free lane belongs to the claimed slot.
    other = dispatcher.reserve("wf").submit(lambda: "other")
    time.sleep(0.2)
    assert not other.done()
    started = threading.Event()
    mine = claimed.submit(lambda: started.set() or "mine")
    assert mine.result(timeout=5) == "mine" and started.is_set()
    assert other.result(timeout=5) == "other"  # after the claimed work, in its lane
    gate.set()
    assert busy.result(timeout=5)
    dispatcher.close()


def test_a_released_claim_frees_its_lane_for_waiting_work() -> None:
    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=5, idle_s=0.2)
    claimed = dispatcher.reserve("wf")
    assert claimed.claim_lane()
    waiting = dispatcher.reserve("wf").submit(lambda: 3)
    time.sleep(0.4)  # longer than a thread's idle time: the waiting work needs a new one
    assert not waiting.done()
    claimed.release()
    assert waiting.result(timeout=5) == 3
    dispatcher.close()


def test_closing_does_not_cancel_claimed_work() -> None:
    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=5)
    claimed = dispatcher.reserve("wf")
    assert claimed.claim_lane()
    queued = dispatcher.reserve("wf").submit(lambda: "queued")
    dispatcher.close()
    assert queued.cancelled()  # it waited for the lane the claim holds
    assert claimed.submit(lambda: "ran").result(timeout=5) == "ran"  # it was recorded started
    with pytest.raises(Unavailable):
        dispatcher.reserve("wf")


def test_a_lane_freed_with_nothing_waiting_wakes_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A claimed lane given back (a run of the event loop ended) wakes an idle lane thread
    only for work that waits: woken for none, it would only go back to sleep."""
    dispatcher = ThreadDispatcher(concurrency=2, idle_s=30)
    dispatcher.reserve("k").submit(lambda: None).result(5)  # a lane thread, idle now
    slot = dispatcher.reserve("k")
    assert slot.claim_lane()
    woken: list[int] = []
    lane = dispatcher._lanes["k"]
    notify = lane.ready.notify

    def counted(n: int = 1) -> None:
        woken.append(n)
        notify(n)

    monkeypatch.setattr(lane.ready, "notify", counted)
    slot.release()
    assert woken == []
    waiting = dispatcher.reserve("k")
    assert waiting.claim_lane()
    queued = dispatcher.reserve("k").submit(lambda: "ran")
    waiting.release()  # now work waits: the idle thread is woken for it
    assert queued.result(5) == "ran"
    dispatcher.close()
