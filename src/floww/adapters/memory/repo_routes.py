"""Triggers and webhooks of ``InMemoryWorkflowRepo``: atomic replacement per workflow and
source, and webhook lookup by method and path (``floww.domain.routing``: the most specific wins)."""

from __future__ import annotations

from collections.abc import Sequence

from floww.adapters.memory.repo_tables import RepoTables
from floww.domain.errors import Conflict, NotFound
from floww.domain.model import Trigger, TriggerSource, Webhook
from floww.domain.paths import PathTemplate
from floww.domain.routing import most_specific
from floww.domain.triggers import check_trigger_set

__all__ = ["RouteTables"]


class RouteTables(RepoTables):
    """What starts executions: the triggers and webhooks of each workflow and source."""

    def replace_triggers(
        self,
        workflow_id: str,
        source: TriggerSource,
        triggers: Sequence[Trigger],
        webhooks: Sequence[Webhook],
    ) -> None:
        triggers, webhooks = tuple(triggers), tuple(webhooks)
        check_trigger_set(workflow_id, source, triggers, webhooks)
        trigger_ids = {t.id for t in triggers}
        with self._lock:
            self._workflow(workflow_id)
            for (other_wf, other_source), existing in self._triggers.items():
                if (other_wf, other_source) == (workflow_id, source):
                    continue
                clash = trigger_ids & {t.id for t in existing}
                if clash:
                    raise Conflict(f"trigger id {min(clash)} is taken", trigger_id=min(clash))
            self._triggers[(workflow_id, source)] = triggers
            self._webhooks[(workflow_id, source)] = webhooks
            self._routes_changed(workflow_id)

    def routes_version(self, workflow_id: str) -> int | None:
        with self._lock:
            if workflow_id not in self._workflows:
                return None
            return self._routes_versions.get(workflow_id, 0)

    def list_triggers(self, workflow_id: str, source: TriggerSource | None = None) -> list[Trigger]:
        sources = [source] if source is not None else list(TriggerSource)
        with self._lock:
            return [t for s in sources for t in self._triggers.get((workflow_id, s), ())]

    def get_trigger(self, trigger_id: str) -> Trigger:
        with self._lock:
            for triggers in self._triggers.values():
                for trigger in triggers:
                    if trigger.id == trigger_id:
                        return trigger
        raise NotFound("trigger", trigger_id)

    def list_cron_triggers(self) -> list[Trigger]:
        with self._lock:
            return [
                trigger
                for (_, source), triggers in self._triggers.items()
                if source is TriggerSource.DEPLOYMENT
                for trigger in triggers
                if trigger.spec.trigger_type == "cron"
            ]

    def list_webhooks(self, workflow_id: str) -> list[Webhook]:
        with self._lock:
            return [w for s in TriggerSource for w in self._webhooks.get((workflow_id, s), ())]

    def find_webhooks(self, workflow_id: str, method: str, path: str) -> list[Webhook]:
        method = method.upper()
        found: list[Webhook] = []
        with self._lock:
            for source in TriggerSource:
                best = most_specific(
                    (
                        (PathTemplate.parse(webhook.path), webhook)
                        for webhook in self._webhooks.get((workflow_id, source), ())
                        if webhook.method.upper() == method
                    ),
                    path,
                )
                if best is not None:
                    found.append(best[0])
        return found
