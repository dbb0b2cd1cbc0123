"""What the providers' registrations share: a call that turns every refusal and every network
error into a ``failed`` outcome, the check of an answer's status, and the wording of a list."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from floww.adapters.provider_hooks.egress import EgressRefused
from floww.domain.provider_hooks import HookOutcome, HookTarget

__all__ = ["Refused", "call_provider", "expect", "phrase"]

log = logging.getLogger("floww.provider_hooks")


class Refused(Exception):
    """The provider answered with an error: ``status`` and its own ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def call_provider(
    title: str,
    target: HookTarget,
    apply: Callable[[httpx.Client], HookOutcome],
    failed: Callable[[HookTarget, str], HookOutcome],
    reason: Callable[[Refused], str],
    *,
    base_url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    transport: httpx.BaseTransport | None,
) -> HookOutcome:
    """``apply`` with a client of the provider's API at ``base_url``; a ``Refused`` becomes
    ``failed(target, reason(exc))`` and a provider out of reach ``failed`` saying so: never
    raises."""
    try:
        # trust_env off: a proxy from the environment would take the calls past ``transport``
        # (the egress check).
        with httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout_s,
            transport=transport,
            trust_env=False,
        ) as client:
            return apply(client)
    except Refused as exc:
        return failed(target, reason(exc))
    except EgressRefused as exc:
        return failed(target, f"{title}'s API is out of bounds: {exc}")
    except httpx.HTTPError as exc:
        log.warning("%s webhook of %s not registered: %s", title, target.target, type(exc).__name__)
        return failed(target, f"{title}'s API could not be reached ({type(exc).__name__})")


def expect(
    response: httpx.Response, ok: set[int], said: Callable[[dict[str, Any], str], str]
) -> httpx.Response:
    """``response`` when its status is in ``ok``; ``Refused`` otherwise, with what the provider
    said: ``said(body, reason phrase)`` for a JSON object body, the reason phrase for another."""
    if response.status_code in ok:
        return response
    try:
        doc = response.json()
    except ValueError:
        doc = None
    reason = response.reason_phrase
    raise Refused(response.status_code, said(doc, reason) if isinstance(doc, dict) else reason)


def phrase(noun: str, names: tuple[str, ...] | list[str]) -> str:
    """``event push`` or ``events push, pull_request``: the noun, plural for more than one."""
    return noun + ("s " if len(names) > 1 else " ") + ", ".join(names)
