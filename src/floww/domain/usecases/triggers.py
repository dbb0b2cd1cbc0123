"""Trigger sync: make a workflow's stored triggers equal a declared set, by identity.

Kept triggers keep their ids (and state); removed ones go; added ones get new ids.
"""

from __future__ import annotations

from collections.abc import Sequence

from floww.domain.errors import InvalidInput
from floww.domain.model import Principal, Trigger, TriggerSource, TriggerSpec, Webhook
from floww.domain.paths import PathTemplate
from floww.domain.triggers import TriggerDiff, diff_triggers, shares_path, webhooks_for
from floww.domain.usecases.access import Action, require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.ports.support import IdGenerator
from floww.ports.workflow_repo import WorkflowRepo

__all__ = [
    "DEV_TOKEN_TTL_S",
    "check_trigger_set",
    "issue_dev_token",
    "sync_triggers",
]

DEV_TOKEN_TTL_S = 12 * 3600


def _check_unique_endpoints(webhooks: Sequence[Webhook]) -> None:
    """Triggers of one provider alias share its path (``shares_path``); any other two
    webhooks of one method and path shape are refused."""
    seen: dict[tuple[str, str], Webhook] = {}
    for hook in webhooks:
        shape = (hook.method, PathTemplate.parse(hook.path).shape)
        first = seen.setdefault(shape, hook)
        if first is hook or shares_path(first, hook):
            continue
        if first.path != hook.path:
            raise InvalidInput(
                f"webhooks {hook.method} {first.path} and {hook.method} {hook.path} would "
                "match the same requests; give them distinct paths"
            )
        raise InvalidInput(f"two triggers declare webhook {hook.method} {hook.path}")


def check_trigger_set(workflow_id: str, specs: Sequence[TriggerSpec]) -> None:
    """``InvalidInput`` when the specs' webhooks would collide; stores nothing."""
    probes = [Trigger(id=f"probe{i}", workflow_id=workflow_id, spec=s) for i, s in enumerate(specs)]
    _check_unique_endpoints([hook for t in probes for hook in webhooks_for(t)])


def sync_triggers(
    repo: WorkflowRepo,
    ids: IdGenerator,
    *,
    workflow_id: str,
    source: TriggerSource,
    specs: Sequence[TriggerSpec],
    deployment_id: str | None = None,
) -> tuple[TriggerDiff, list[Webhook]]:
    """Replace the workflow's ``source`` triggers with ``specs``; returns the diff and the
    webhooks now registered. ``InvalidInput`` when two webhooks would collide."""
    current = {t.spec.identity: t for t in repo.list_triggers(workflow_id, source)}
    diff = diff_triggers([t.spec for t in current.values()], specs)
    triggers: list[Trigger] = []
    for spec in specs:
        existing = current.get(spec.identity)
        triggers.append(
            Trigger(
                id=existing.id if existing else ids.new_id("trg"),
                workflow_id=workflow_id,
                spec=spec,
                source=source,
                deployment_id=deployment_id,
                state=existing.state if existing else {},
            )
        )
    webhooks = [hook for trigger in triggers for hook in webhooks_for(trigger)]
    _check_unique_endpoints(webhooks)
    repo.replace_triggers(workflow_id, source, triggers, webhooks)
    return diff, webhooks


def issue_dev_token(deps: ServerDeps, principal: Principal, workflow_id: str) -> str:
    """A token for the code a dev session runs on its own machine (local webhooks, local cron):
    scoped like an execution token to this one workflow and its namespace (KV, nothing else),
    living as long as a working day."""
    workflow = require_workflow(deps.repo, principal, workflow_id, Action.RUN)
    return deps.tokens.issue_execution_token(
        namespace_id=workflow.namespace_id,
        workflow_id=workflow.id,
        execution_id=deps.ids.new_id("dev"),
        ttl_seconds=DEV_TOKEN_TTL_S,
        # A person's session: it ends with their membership (checked on every use).
        on_behalf_of=principal.id if principal.kind in ("user", "api_key") else None,
    )
