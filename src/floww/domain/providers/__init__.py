"""The provider catalogue: every provider type the platform knows, one module each.

A module holds a provider's rules (``ProviderRules``): credential fields, triggers and their
filters, delivery verification, event shape, body limit. Adding a provider is adding a module
and naming it in ``_ALL`` below; no shared code branches on a provider's type. The SDK gives
each provider its user-facing class (``floww.sdk.providers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from floww.domain.errors import NotFound, Unauthenticated
from floww.domain.model import ProviderField, TriggerSpec
from floww.domain.providers import (
    discord,
    github,
    gitlab,
    jira,
    linear,
    slack,
    standard_webhooks,
    stripe,
    todoist,
)
from floww.domain.providers.base import ACK, Delivery, ProviderRules, TriggerType

__all__ = [
    "ACK",
    "CATALOGUE",
    "Delivery",
    "ProviderRules",
    "TriggerType",
    "body_limit",
    "path_body_limit",
    "rules_for",
    "verify_delivery",
]

BUILTIN = ProviderRules(
    type="builtin",
    title="floww's own triggers",
    triggers=(
        TriggerType("webhook", "an HTTP request to the workflow's URL", ("path", "methods")),
        TriggerType("cron", "a schedule (cron expression, UTC)", ("expression",)),
        TriggerType("manual", "a run started by a person or the API", ("name",)),
    ),
)
SECRET = ProviderRules(
    type="secret",
    title="Generic secret (fields chosen by the code)",
    fields=(ProviderField("value", label="Value", secret=True),),
)

_ALL: tuple[ProviderRules, ...] = (
    BUILTIN,
    SECRET,
    discord.RULES,
    github.RULES,
    gitlab.RULES,
    jira.RULES,
    linear.RULES,
    slack.RULES,
    standard_webhooks.RULES,
    stripe.RULES,
    todoist.RULES,
)

CATALOGUE: Mapping[str, ProviderRules] = {rules.type: rules for rules in _ALL}


def rules_for(provider_type: str) -> ProviderRules:
    """The rules of ``provider_type``; ``NotFound`` for a type the platform does not know."""
    try:
        return CATALOGUE[provider_type]
    except KeyError:
        raise NotFound("provider type", provider_type) from None


def body_limit(provider_type: str, default: int) -> int:
    """How large a delivery to a trigger of ``provider_type`` may be."""
    rules = CATALOGUE.get(provider_type)
    if rules is None or rules.max_body_bytes is None:
        return default
    return max(default, rules.max_body_bytes)


def verify_delivery(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    """Check a delivery to a provider-owned webhook. ``headers`` are lower-cased.
    ``Unauthenticated`` when it is not genuine, and for provider types that have no way to
    verify a delivery (nothing unverified runs)."""
    rules = CATALOGUE.get(spec.provider.type)
    if rules is None or rules.verify is None:
        raise Unauthenticated(
            f"no way to verify deliveries of provider type {spec.provider.type!r}"
        )
    return rules.verify(spec, config, headers, body, now)


def path_body_limit(path: str, default: int) -> int:
    """The body limit the edge applies before it knows the webhook: a provider-owned webhook's
    path starts with its provider type (``/<type>/<alias>/...``). The use case checks the
    limit again against the webhook it finds, so a builtin path that happens to start with a
    provider's name gains nothing."""
    first = path.lstrip("/").split("/", 1)[0]
    return body_limit(first, default)
