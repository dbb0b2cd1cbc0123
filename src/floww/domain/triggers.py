"""Trigger sets: the diff between two sets by identity, and the webhooks a trigger needs.

A builtin webhook trigger gets one endpoint per method on its path; a provider-owned trigger (a
GitHub push, a Slack message) gets a POST endpoint the platform names ``/<provider type>/<alias>``
that the provider delivers to. Every trigger of one provider alias in a workflow shares that
path whatever its filters, so the URL set in the provider's settings never changes when a filter
does: each delivery is checked against every trigger on the path. A workflow's public webhook
URL is ``<base>/webhook/<workflow id><path>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from floww.domain.errors import Conflict, InvalidInput
from floww.domain.model import Trigger, TriggerSource, TriggerSpec, Webhook
from floww.domain.paths import PathTemplate

__all__ = [
    "TriggerDiff",
    "WebhookEndpoint",
    "check_trigger_set",
    "diff_triggers",
    "provider_path",
    "shares_path",
    "webhook_endpoints",
    "webhook_url",
    "webhooks_for",
]


@attrs.frozen
class TriggerDiff:
    added: tuple[TriggerSpec, ...]
    removed: tuple[TriggerSpec, ...]
    kept: tuple[TriggerSpec, ...]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def diff_triggers(current: Sequence[TriggerSpec], wanted: Sequence[TriggerSpec]) -> TriggerDiff:
    """Compare by identity; order follows ``wanted`` (added, kept) and ``current`` (removed)."""
    have = {spec.identity for spec in current}
    want = {spec.identity for spec in wanted}
    return TriggerDiff(
        added=tuple(s for s in wanted if s.identity not in have),
        removed=tuple(s for s in current if s.identity not in want),
        kept=tuple(s for s in wanted if s.identity in have),
    )


def webhooks_for(trigger: Trigger) -> list[Webhook]:
    """The endpoints that fire ``trigger`` (none for cron and manual triggers)."""
    spec = trigger.spec
    if spec.provider.type == "builtin":
        if spec.trigger_type != "webhook":
            return []
        template = PathTemplate.parse(str(spec.input.get("path", "")))
        methods = spec.input.get("methods") or ["POST"]
        return [
            Webhook(
                id=f"{trigger.id}:{method}",
                workflow_id=trigger.workflow_id,
                trigger_id=trigger.id,
                method=str(method).upper(),
                path=template.template,
                owner=spec.provider,
                source=trigger.source,
            )
            for method in methods
        ]
    return [
        Webhook(
            id=f"{trigger.id}:POST",
            workflow_id=trigger.workflow_id,
            trigger_id=trigger.id,
            method="POST",
            path=provider_path(spec),
            owner=spec.provider,
            source=trigger.source,
        )
    ]


def provider_path(spec: TriggerSpec) -> str:
    """The stable path of a provider-owned trigger: one per (provider type, alias)."""
    return f"/{spec.provider.type}/{spec.provider.alias}"


def shares_path(a: Webhook, b: Webhook) -> bool:
    """Whether two webhooks may serve one method and path: triggers of one provider alias
    (their deliveries are told apart by each trigger's filters), never builtin ones."""
    return a.owner == b.owner and a.owner.type != "builtin" and a.path == b.path


def webhook_url(base_url: str, hook: Webhook) -> str:
    return f"{base_url.rstrip('/')}/webhook/{hook.workflow_id}{hook.path}"


@attrs.frozen
class WebhookEndpoint:
    """One public URL of a workflow and the triggers it fires (``TriggerSpec.describe``):
    one for a builtin webhook, every trigger of the alias for a provider's shared path."""

    method: str
    url: str
    triggers: tuple[str, ...]

    @property
    def line(self) -> str:
        return f"{self.method} {self.url}"


def webhook_endpoints(
    base_url: str, webhooks: Sequence[Webhook], specs: Mapping[str, TriggerSpec]
) -> tuple[WebhookEndpoint, ...]:
    """``webhooks`` grouped by method and URL, in order of first appearance; ``specs`` maps
    trigger ids to the specs the labels describe."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for hook in webhooks:
        labels = grouped.setdefault((hook.method, webhook_url(base_url, hook)), [])
        spec = specs.get(hook.trigger_id)
        label = spec.describe() if spec is not None else hook.trigger_id
        if label not in labels:
            labels.append(label)
    return tuple(
        WebhookEndpoint(method, url, tuple(labels)) for (method, url), labels in grouped.items()
    )


def check_trigger_set(
    workflow_id: str,
    source: TriggerSource,
    triggers: Sequence[Trigger],
    webhooks: Sequence[Webhook],
) -> None:
    """The rules every ``WorkflowRepo.replace_triggers`` applies to a replacement set:
    ``Conflict`` for two triggers of one id, or two webhooks serving one method and path shape
    (they would match the same requests) unless both are of one provider alias
    (``shares_path``); ``InvalidInput`` for a trigger or webhook of another
    workflow or source, or a webhook of a trigger not in the set."""
    trigger_ids = {t.id for t in triggers}
    if len(trigger_ids) != len(triggers):
        raise Conflict("two triggers share an id", workflow_id=workflow_id)
    for trigger in triggers:
        if trigger.workflow_id != workflow_id or trigger.source != source:
            raise InvalidInput(
                f"trigger {trigger.id} belongs to {trigger.workflow_id}/"
                f"{trigger.source.value}, not {workflow_id}/{source.value}"
            )
    served: dict[tuple[str, str], Webhook] = {}
    for hook in webhooks:
        if hook.workflow_id != workflow_id or hook.source != source:
            raise InvalidInput(
                f"webhook {hook.id} belongs to {hook.workflow_id}/{hook.source.value}, "
                f"not {workflow_id}/{source.value}"
            )
        if hook.trigger_id not in trigger_ids:
            raise InvalidInput(f"webhook {hook.id} fires unknown trigger {hook.trigger_id}")
        key = (hook.method.upper(), PathTemplate.parse(hook.path).shape)
        if key in served and not shares_path(served[key], hook):
            raise Conflict(
                f"webhooks {served[key].path!r} and {hook.path!r} both serve {key[0]} {key[1]}",
                method=key[0],
                path=hook.path,
            )
        served.setdefault(key, hook)
