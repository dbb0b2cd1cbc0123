"""Rate limits on the unauthenticated doors: device-login starts per client, and password
attempts per account and per client with growing delays. A refused attempt raises
``RateLimited`` at once (the edge answers 429 with ``Retry-After``); nothing sleeps.

``client`` is whatever the edge identifies a caller by (its address); ``account`` is the
login name as typed, case-folded. ``now`` is monotonic seconds.
"""

from __future__ import annotations

from typing import Any

import attrs

from floww.domain.errors import RateLimited
from floww.domain.rate_limits import Backoff, TokenBucket, after_failure, take, wait_for
from floww.ports.limit_store import LimitStore

__all__ = [
    "LoginLimits",
    "admit_device_start",
    "admit_login",
    "login_succeeded",
]


ACCOUNT_BACKOFF = Backoff(free_failures=5, base_s=1.0, max_s=300.0, forget_after_s=3600.0)
CLIENT_BACKOFF = Backoff(free_failures=20, base_s=1.0, max_s=900.0, forget_after_s=3600.0)


@attrs.frozen
class LoginLimits:
    """Defaults: an account gets 5 free failures, then waits 1, 2, 4 ... up to 300 s (capped
    low: anyone can fail an account's password, and must not lock its owner out for long);
    a client gets 20, then waits up to 15 minutes. Both forget after an hour without
    failures; a success forgets the account's failures."""

    account: Backoff = ACCOUNT_BACKOFF
    client: Backoff = CLIENT_BACKOFF


def admit_device_start(store: LimitStore, rule: TokenBucket, *, client: str, now: float) -> None:
    """Count one device-login start by ``client``; ``RateLimited`` past ``rule``."""

    def change(state: Any) -> tuple[Any, float | None]:
        return take(state, rule, now)

    wait = store.update(f"device-start:client:{client}", change)
    if wait is not None:
        raise RateLimited("too many device logins started from this address", retry_after_s=wait)


def _keys(account: str, client: str) -> tuple[str, str]:
    return f"login:account:{account.strip().casefold()}", f"login:client:{client}"


def _attempt(store: LimitStore, key: str, rule: Backoff, now: float) -> float | None:
    """Count one attempt as failed now, in the same update that checks the wait, so attempts
    sent together cannot all pass before any is counted; the wait when refused (nothing
    counted then)."""

    def change(state: Any) -> tuple[Any, float | None]:
        wait = wait_for(state, rule, now)
        return (state, wait) if wait is not None else (after_failure(state, rule, now), None)

    return store.update(key, change)


def admit_login(
    store: LimitStore, limits: LoginLimits, *, account: str, client: str, now: float
) -> None:
    """Admit one sign-in attempt, counted as failed until ``login_succeeded`` says otherwise;
    ``RateLimited`` while the account or the client must wait."""
    account_key, client_key = _keys(account, client)
    for key, rule in ((account_key, limits.account), (client_key, limits.client)):
        wait = _attempt(store, key, rule, now)
        if wait is not None:  # a refused attempt counts nowhere further
            raise RateLimited(
                "too many failed sign-ins; wait before trying again", retry_after_s=wait
            )


def login_succeeded(store: LimitStore, *, account: str, client: str) -> None:
    """The attempt was right: the account starts afresh. The client's count keeps it (a
    client's budget of attempts is large; one good password must not reset a guesser's)."""
    account_key, _ = _keys(account, client)
    store.update(account_key, lambda _: (None, None))
