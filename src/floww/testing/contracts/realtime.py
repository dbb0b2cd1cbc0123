"""Contract of ``Realtime``."""

from __future__ import annotations

import threading
import uuid

from floww.ports.realtime import Realtime, workflow_channel


def channel() -> str:
    return workflow_channel(f"wf_{uuid.uuid4().hex[:8]}")


def test_subscribers_receive_in_publish_order(realtime: Realtime) -> None:
    name = channel()
    first, second = realtime.subscribe(name), realtime.subscribe(name)
    for n in range(3):
        realtime.publish(name, {"type": "event", "n": n})
    for subscription in (first, second):
        assert [subscription.get(timeout=1) for _ in range(3)] == [
            {"type": "event", "n": n} for n in range(3)
        ]
        assert subscription.get(timeout=0.05) is None
        subscription.close()


def test_only_messages_after_subscribing_arrive(realtime: Realtime) -> None:
    name = channel()
    realtime.publish(name, {"n": "before"})  # nobody listens: fine
    subscription = realtime.subscribe(name)
    realtime.publish(name, {"n": "after"})
    assert subscription.get(timeout=1) == {"n": "after"}
    assert subscription.get(timeout=0.05) is None
    subscription.close()


def test_channels_are_separate(realtime: Realtime) -> None:
    mine, theirs = channel(), channel()
    subscription = realtime.subscribe(mine)
    realtime.publish(theirs, {"n": 1})
    assert subscription.get(timeout=0.05) is None
    subscription.close()


def test_a_closed_subscription_returns_none(realtime: Realtime) -> None:
    name = channel()
    subscription = realtime.subscribe(name)
    subscription.close()
    realtime.publish(name, {"n": 1})
    assert subscription.get(timeout=0.05) is None


def test_close_wakes_a_blocked_reader(realtime: Realtime) -> None:
    subscription = realtime.subscribe(channel())
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(subscription.get(timeout=5)))
    reader.start()
    subscription.close()
    reader.join(timeout=2)
    assert not reader.is_alive()
    assert got == [None]


def test_a_blocked_reader_gets_a_later_message(realtime: Realtime) -> None:
    name = channel()
    subscription = realtime.subscribe(name)
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(subscription.get(timeout=5)))
    reader.start()
    realtime.publish(name, {"reply_to": "r1", "body": {"nested": [1, "two", None]}})
    reader.join(timeout=2)
    assert got == [{"reply_to": "r1", "body": {"nested": [1, "two", None]}}]
    subscription.close()


def test_subscriber_count_follows_subscriptions(realtime: Realtime) -> None:
    channel = f"workflow:count-{id(realtime)}"
    assert realtime.subscriber_count(channel) == 0
    first, second = realtime.subscribe(channel), realtime.subscribe(channel)
    assert realtime.subscriber_count(channel) == 2
    first.close()
    assert realtime.subscriber_count(channel) == 1
    second.close()
    assert realtime.subscriber_count(channel) == 0
