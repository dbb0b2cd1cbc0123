"""The rules of rate limits, as pure functions over small immutable states; where the states
live is the ``LimitStore`` port's business. Times are monotonic seconds.

- ``TokenBucket``: ``capacity`` actions at once, refilled at ``capacity`` per ``period_s``.
  ``take`` spends one token or says how long until one is back.
- ``Backoff``: after ``free_failures`` failures, each further failure doubles the wait before
  the next attempt, from ``base_s`` up to ``max_s``. A key whose last failure is older than
  ``forget_after_s`` starts afresh; a success forgets it at once (the caller deletes it).
"""

from __future__ import annotations

import attrs

__all__ = ["Backoff", "Bucket", "Failures", "TokenBucket", "after_failure", "take", "wait_for"]


_EPSILON = 1e-9


@attrs.frozen
class TokenBucket:
    capacity: int
    period_s: float

    def __attrs_post_init__(self) -> None:
        if self.capacity < 1 or self.period_s <= 0:
            raise ValueError("a token bucket needs a capacity >= 1 and a positive period")


@attrs.frozen
class Bucket:
    tokens: float
    at: float


def take(bucket: Bucket | None, rule: TokenBucket, now: float) -> tuple[Bucket, float | None]:
    """The bucket after one action at ``now``, and ``None`` when the action is allowed or the
    seconds to wait before it would be (the bucket is then unchanged but for its refill)."""
    rate = rule.capacity / rule.period_s
    if bucket is None:
        tokens = float(rule.capacity)
    else:
        tokens = min(float(rule.capacity), bucket.tokens + max(0.0, now - bucket.at) * rate)
    if tokens >= 1.0 - _EPSILON:  # waiting exactly as long as told is enough
        return Bucket(max(0.0, tokens - 1.0), now), None
    return Bucket(tokens, now), (1.0 - tokens) / rate


@attrs.frozen
class Backoff:
    free_failures: int
    base_s: float
    max_s: float
    forget_after_s: float


@attrs.frozen
class Failures:
    count: int
    last_at: float
    blocked_until: float


def _current(state: Failures | None, rule: Backoff, now: float) -> Failures | None:
    if state is None or now - state.last_at >= rule.forget_after_s:
        return None
    return state


def wait_for(state: Failures | None, rule: Backoff, now: float) -> float | None:
    """Seconds before the next attempt may be made, or ``None`` when it may be made now."""
    current = _current(state, rule, now)
    if current is None or now >= current.blocked_until:
        return None
    return current.blocked_until - now


def after_failure(state: Failures | None, rule: Backoff, now: float) -> Failures:
    """The state after a failed attempt at ``now``."""
    current = _current(state, rule, now)
    count = 1 if current is None else current.count + 1
    over = count - rule.free_failures
    delay = 0.0 if over <= 0 else min(rule.max_s, rule.base_s * 2 ** min(over - 1, 62))
    return Failures(count, now, now + delay)
