"""Webhooks registered with providers at deploy: what each provider alias's webhook should be
after a deploy, computed from the triggers before and after it.

A provider whose rules name a ``hook_target`` (GitHub: the repository) gets one webhook per
target, pointing at the alias's stable URL (``floww.domain.triggers.provider_path``), asking for
the events of every trigger on that target. A target that had triggers before the deploy and
has none after gets ``events == ()``: its webhook is removed. The calls to the provider's API
are an adapter's (``floww.ports.provider_hooks``); nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from floww.domain.model import ProviderRef, TriggerSpec
from floww.domain.providers import CATALOGUE
from floww.domain.triggers import provider_path

__all__ = ["HookOutcome", "HookTarget", "hook_targets"]


@attrs.frozen
class HookTarget:
    """The webhook ``provider`` should have on ``target`` (a GitHub repository ``owner/name``):
    delivering ``events`` to ``url``; none at all (remove it) when ``events`` is empty."""

    provider: ProviderRef
    target: str
    url: str
    events: tuple[str, ...]

    @property
    def removal(self) -> bool:
        return not self.events


@attrs.frozen
class HookOutcome:
    """What registering one ``HookTarget`` did. ``action`` is ``created``, ``updated``,
    ``unchanged``, ``removed``, ``absent`` (nothing to remove) or ``failed``; ``message`` is a
    sentence for the person deploying (for ``failed``: what to do by hand). ``config_update``
    holds provider settings the provider generated (Stripe's signing secret of an endpoint it
    created): the deploy stores them in the provider's config; they are never reported."""

    provider: str
    target: str
    url: str
    action: str
    message: str
    config_update: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    @classmethod
    def of(
        cls,
        target: HookTarget,
        action: str,
        message: str,
        config_update: Mapping[str, str] | None = None,
    ) -> HookOutcome:
        """The outcome for ``target``: its provider, target and URL."""
        return cls(
            target.provider.key,
            target.target,
            target.url,
            action,
            message,
            dict(config_update or {}),
        )

    @property
    def failed(self) -> bool:
        return self.action == "failed"


def _wanted(
    specs: Sequence[TriggerSpec], url_of: dict[ProviderRef, str]
) -> dict[tuple[ProviderRef, str], list[str]]:
    wanted: dict[tuple[ProviderRef, str], list[str]] = {}
    for spec in specs:
        rules = CATALOGUE.get(spec.provider.type)
        if rules is None or rules.hook_target is None:
            continue
        found = rules.hook_target(spec)
        if found is None:
            continue
        target, named = found
        events = wanted.setdefault((spec.provider, target), [])
        for event in (named,) if isinstance(named, str) else named:
            if event not in events:
                events.append(event)
        url_of.setdefault(spec.provider, provider_path(spec))
    return wanted


def hook_targets(
    base_url: str,
    workflow_id: str,
    before: Sequence[TriggerSpec],
    after: Sequence[TriggerSpec],
) -> tuple[HookTarget, ...]:
    """The webhooks to register (every target of ``after``, events sorted) and to remove
    (targets of ``before`` that ``after`` no longer has), in that order."""
    paths: dict[ProviderRef, str] = {}
    now = _wanted(after, paths)
    then = _wanted(before, paths)
    root = f"{base_url.rstrip('/')}/webhook/{workflow_id}"
    keep = tuple(
        HookTarget(ref, target, root + paths[ref], tuple(sorted(events)))
        for (ref, target), events in now.items()
    )
    gone = tuple(
        HookTarget(ref, target, root + paths[ref], ())
        for (ref, target) in then
        if (ref, target) not in now
    )
    return keep + gone
