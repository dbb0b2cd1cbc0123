"""Retry policies: what they accept, how long they wait, which errors and attempts they
retry, and that a policy survives the trip through a trigger's input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww.domain.errors import InvalidInput
from floww.domain.retry_policy import RetryPolicy


def _no_jitter(low: float, high: float) -> float:
    return (low + high) / 2


def test_backoff_doubles_up_to_its_ceiling() -> None:
    policy = RetryPolicy(attempts=6, backoff_s=1, max_backoff_s=5, jitter=0)
    assert [policy.delay_s(n, _no_jitter) for n in range(1, 6)] == [1, 2, 4, 5, 5]


@given(
    attempt=st.integers(1, 19),
    backoff=st.floats(0.01, 100),
    jitter=st.floats(0, 1),
    draw=st.floats(0, 1),
)
def test_jitter_stays_within_its_band(
    attempt: int, backoff: float, jitter: float, draw: float
) -> None:
    policy = RetryPolicy(attempts=20, backoff_s=backoff, max_backoff_s=1000, jitter=jitter)
    base = min(1000, backoff * 2 ** (attempt - 1))
    delay = policy.delay_s(attempt, lambda lo, hi: lo + (hi - lo) * draw)
    assert base * (1 - jitter) - 0.001 <= delay <= base * (1 + jitter) + 0.001


def test_only_the_named_errors_and_the_remaining_attempts_are_retried() -> None:
    policy = RetryPolicy(attempts=3, on=("TimeoutError",))
    assert policy.retries("TimeoutError", 1) and policy.retries("TimeoutError", 2)
    assert not policy.retries("TimeoutError", 3)
    assert not policy.retries("ValueError", 1)
    assert RetryPolicy(attempts=2).retries("AnythingAtAll", 1)


@given(
    attempts=st.integers(1, 20),
    backoff=st.floats(0.01, 10),
    jitter=st.floats(0, 1),
    on=st.lists(st.sampled_from(["ValueError", "DeadlineExceeded"]), max_size=2),
)
def test_a_policy_round_trips_through_trigger_input(
    attempts: int, backoff: float, jitter: float, on: list[str]
) -> None:
    policy = RetryPolicy(attempts, backoff, 60, jitter, tuple(on))
    assert RetryPolicy.from_input({"retry": policy.as_input(), "path": "/x"}) == policy
    assert RetryPolicy.from_input({"path": "/x"}) is None


@pytest.mark.parametrize(
    "doc",
    [
        {"attempts": 0},
        {"attempts": 21},
        {"backoff_s": 0},
        {"backoff_s": 10, "max_backoff_s": 5},
        {"jitter": 1.5},
        {"on": [""]},
        {"tries": 3},
        "three",
    ],
)
def test_a_policy_that_does_not_hold_is_refused(doc: object) -> None:
    with pytest.raises(InvalidInput):
        RetryPolicy.from_input({"retry": doc})
