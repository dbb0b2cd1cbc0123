"""The queue behind every realtime subscription: closing wakes all readers, discards what
waits, and a reader too far behind is dropped."""

from __future__ import annotations

import threading

from floww.adapters.inbox import Inbox


def test_items_come_out_in_order_until_closed_and_the_rest_is_discarded() -> None:
    inbox: Inbox[int] = Inbox()
    assert inbox.put(1) and inbox.put(2) and inbox.put(3)
    assert inbox.get(timeout=0) == 1
    assert inbox.close() and not inbox.close()
    assert inbox.closed and not inbox.overflowed
    assert inbox.get(timeout=0) is None
    assert not inbox.put(4)


def test_an_empty_inbox_answers_none_after_the_timeout() -> None:
    assert Inbox[str]().get(timeout=0.01) is None


def test_closing_wakes_every_blocked_reader() -> None:
    inbox: Inbox[str] = Inbox(max_pending=1)
    answers: list[str | None] = []
    readers = [threading.Thread(target=lambda: answers.append(inbox.get())) for _ in range(3)]
    for reader in readers:
        reader.start()
    inbox.close()
    for reader in readers:
        reader.join(timeout=10)
    assert not any(reader.is_alive() for reader in readers)
    assert answers == [None, None, None]


def test_a_full_inbox_refuses_and_closes_as_overflowed() -> None:
    inbox: Inbox[str] = Inbox(max_pending=2)
    assert inbox.put("a") and inbox.put("b")
    assert not inbox.put("c")
    assert inbox.overflowed and inbox.closed
    assert inbox.get(timeout=0) is None
