"""``Retry``: the retry policy a trigger declares for its failed runs (the ones nobody waits
on: provider deliveries, cron ticks, manual runs)::

    @github.on_push("acme", "api", retry=Retry(attempts=5, backoff_s=2, on=("TimeoutError",)))
    def build(ctx, event): ...

See ``floww.domain.retry_policy`` for what each setting means."""

from __future__ import annotations

from typing import Any

from floww.domain.errors import InvalidInput
from floww.domain.retry_policy import RETRY_KEY, RetryPolicy

__all__ = ["Retry", "with_retry"]

Retry = RetryPolicy


def with_retry(input: dict[str, Any], retry: RetryPolicy | None) -> dict[str, Any]:
    """The trigger input with the policy under its reserved key."""
    if retry is None:
        return input
    if not isinstance(retry, RetryPolicy):
        raise InvalidInput(f"retry must be a floww.Retry(...), not {retry!r}")
    return {**input, RETRY_KEY: retry.as_input()}
