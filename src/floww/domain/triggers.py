"""Trigger sets: the diff between two sets by identity, and the webhooks a trigger needs.

A builtin webhook trigger gets one endpoint per method on its path; a provider-owned trigger (a
GitHub push, a Slack message) gets a POST endpoint the platform names,
``/<provider type>/<alias>/<trigger key>``, that the provider delivers to. A workflow's public
webhook URL is ``<base>/webhook/<workflow id><path>``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from floww.domain.model import Trigger, TriggerSpec, Webhook
from floww.domain.paths import PathTemplate

__all__ = ["TriggerDiff", "diff_triggers", "webhook_url", "webhooks_for"]


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
            path=f"/{spec.provider.type}/{spec.provider.alias}/{spec.key[:16]}",
            owner=spec.provider,
            source=trigger.source,
        )
    ]


def webhook_url(base_url: str, hook: Webhook) -> str:
    return f"{base_url.rstrip('/')}/webhook/{hook.workflow_id}{hook.path}"
