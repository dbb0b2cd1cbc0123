"""Registering a workflow's webhook with a provider through the provider's API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from floww.domain.provider_hooks import HookOutcome, HookTarget

__all__ = ["ProviderHooks"]


class ProviderHooks(Protocol):
    def apply(self, target: HookTarget, config: Mapping[str, str]) -> HookOutcome:
        """Make the provider's webhooks on ``target.target`` agree with ``target``, using the
        provider alias's stored ``config`` (its token and webhook secret): create the webhook
        for ``target.url`` when there is none, update its events when they differ, delete it
        when ``target.removal``. Never raises for what the provider answers or for an
        unreachable provider: the outcome is ``failed`` with a sentence saying what to do by
        hand. Finds an existing webhook by its URL, so applying twice creates one."""
        ...
