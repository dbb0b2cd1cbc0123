"""Contract of ``Replies``."""

from __future__ import annotations

import threading
import uuid

import pytest

from floww.domain.errors import Conflict, NotFound
from floww.domain.model import InvocationResult
from floww.ports.replies import Replies

ANSWER = InvocationResult(ok=True, result={"status": 200}, duration_ms=3.5)


def reply_id() -> str:
    return f"rp_{uuid.uuid4().hex[:12]}"


def test_a_delivered_answer_is_returned(replies: Replies) -> None:
    rid = reply_id()
    replies.open(rid)
    replies.deliver(rid, ANSWER)
    assert replies.wait(rid, timeout=1) == ANSWER


def test_wait_blocks_until_delivery(replies: Replies) -> None:
    rid = reply_id()
    replies.open(rid)
    timer = threading.Timer(0.05, replies.deliver, args=(rid, ANSWER))
    timer.start()
    assert replies.wait(rid, timeout=5) == ANSWER
    timer.join()


def test_wait_times_out_with_none_and_releases_the_id(replies: Replies) -> None:
    rid = reply_id()
    replies.open(rid)
    assert replies.wait(rid, timeout=0.05) is None
    with pytest.raises(NotFound):
        replies.deliver(rid, ANSWER)


def test_an_answered_id_is_released_after_wait(replies: Replies) -> None:
    rid = reply_id()
    replies.open(rid)
    replies.deliver(rid, ANSWER)
    replies.wait(rid, timeout=1)
    with pytest.raises(NotFound):
        replies.deliver(rid, ANSWER)


def test_deliver_to_unknown_id_raises_not_found(replies: Replies) -> None:
    with pytest.raises(NotFound):
        replies.deliver(reply_id(), ANSWER)


def test_second_delivery_conflicts_and_keeps_the_first(replies: Replies) -> None:
    rid = reply_id()
    replies.open(rid)
    replies.deliver(rid, ANSWER)
    with pytest.raises(Conflict):
        replies.deliver(rid, InvocationResult(ok=False))
    assert replies.wait(rid, timeout=1) == ANSWER


def test_ids_are_independent(replies: Replies) -> None:
    first, second = reply_id(), reply_id()
    replies.open(first)
    replies.open(second)
    replies.deliver(second, ANSWER)
    assert replies.wait(first, timeout=0.05) is None
    assert replies.wait(second, timeout=0.05) == ANSWER


def test_opening_an_open_id_conflicts(replies: Replies) -> None:
    rid = reply_id()
    replies.open(rid)
    with pytest.raises(Conflict):
        replies.open(rid)
    replies.deliver(rid, ANSWER)
    assert replies.wait(rid, timeout=1) == ANSWER


def test_waiting_on_an_id_not_open_raises_not_found(replies: Replies) -> None:
    with pytest.raises(NotFound):
        replies.wait(reply_id(), timeout=0.05)


# Two replicas over one store: the webhook waits on one, the dev session answers on the other.


def test_an_answer_given_on_another_replica_before_the_wait_is_returned(
    replies_replicas: tuple[Replies, Replies],
) -> None:
    waiter, answerer = replies_replicas
    rid = reply_id()
    waiter.open(rid)
    answerer.deliver(rid, ANSWER)
    assert waiter.wait(rid, timeout=5) == ANSWER
    with pytest.raises(NotFound):
        answerer.deliver(rid, ANSWER)


def test_an_answer_given_on_another_replica_wakes_the_wait(
    replies_replicas: tuple[Replies, Replies],
) -> None:
    waiter, answerer = replies_replicas
    rid = reply_id()
    waiter.open(rid)
    timer = threading.Timer(0.05, answerer.deliver, args=(rid, ANSWER))
    timer.start()
    assert waiter.wait(rid, timeout=5) == ANSWER
    timer.join()
