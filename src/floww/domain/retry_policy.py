"""Retry policies of triggers whose runs nobody waits on (provider deliveries, cron ticks,
manual runs), as user code declares them.

A policy lives in the trigger's input under the key ``retry`` (so it travels with the trigger
through deployment, storage and the runtime unchanged, and is part of the trigger's identity:
changing a policy replaces the trigger)::

    {"attempts": 3, "backoff_s": 2.0, "max_backoff_s": 300.0, "jitter": 0.2, "on": ["Timeout"]}

``attempts`` counts every run, the first included. Before attempt ``n + 1`` the platform waits
``min(max_backoff_s, backoff_s * 2 ** (n - 1))``, scaled by a random factor in
``[1 - jitter, 1 + jitter]``. ``on`` names the error types that are retried (the handler's
exception class name, or ``DeadlineExceeded`` for a run that timed out); empty: every error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from floww.domain.errors import InvalidInput

__all__ = ["MAX_ATTEMPTS", "RETRY_KEY", "RetryPolicy"]

RETRY_KEY = "retry"
MAX_ATTEMPTS = 20
_MAX_BACKOFF_S = 24 * 3600.0


@attrs.frozen
class RetryPolicy:
    attempts: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 300.0
    jitter: float = 0.2
    on: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.attempts <= MAX_ATTEMPTS:
            raise InvalidInput(f"retry attempts must be from 1 to {MAX_ATTEMPTS}")
        if not 0 < self.backoff_s <= self.max_backoff_s <= _MAX_BACKOFF_S:
            raise InvalidInput(
                "retry backoff_s must be more than 0 and at most max_backoff_s, itself at most "
                f"{_MAX_BACKOFF_S:.0f} seconds"
            )
        if not 0 <= self.jitter <= 1:
            raise InvalidInput("retry jitter must be from 0 to 1")
        if any(not isinstance(name, str) or not name for name in self.on):
            raise InvalidInput("retry 'on' must list error type names")

    def as_input(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "backoff_s": self.backoff_s,
            "max_backoff_s": self.max_backoff_s,
            "jitter": self.jitter,
            "on": list(self.on),
        }

    @classmethod
    def from_input(cls, trigger_input: Mapping[str, Any]) -> RetryPolicy | None:
        """The policy declared in a trigger's input, ``None`` without one; ``InvalidInput``
        for one that does not hold."""
        doc = trigger_input.get(RETRY_KEY)
        if doc is None:
            return None
        if not isinstance(doc, Mapping):
            raise InvalidInput("a trigger's retry policy must be an object")
        unknown = set(doc) - {"attempts", "backoff_s", "max_backoff_s", "jitter", "on"}
        if unknown:
            raise InvalidInput(f"unknown retry settings: {', '.join(sorted(unknown))}")
        try:
            return cls(
                attempts=int(doc.get("attempts", 3)),
                backoff_s=float(doc.get("backoff_s", 1.0)),
                max_backoff_s=float(doc.get("max_backoff_s", 300.0)),
                jitter=float(doc.get("jitter", 0.2)),
                on=tuple(doc.get("on", ())),
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"a trigger's retry policy does not hold: {exc}") from None

    def retries(self, error_type: str, attempt: int) -> bool:
        """Whether a run that failed with ``error_type`` on ``attempt`` is run again."""
        return attempt < self.attempts and (not self.on or error_type in self.on)

    def delay_s(self, attempt: int, uniform: Callable[[float, float], float]) -> float:
        """How long to wait after ``attempt`` failed; ``uniform(a, b)`` draws the jitter."""
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        factor = uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else 1.0
        return float(round(max(0.0, base * factor), 3))
