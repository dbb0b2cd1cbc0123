"""Registering a workflow's provider webhooks at deploy (docs/providers.md, "Registered
webhooks"): after the deployment and its triggers are stored, outside their transaction, each
``HookTarget`` is applied through the ``ProviderHooks`` port with the provider alias's stored
credentials. A failure never fails the deploy: it is an outcome the deploy reports."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from floww.domain.model import TriggerSpec, Workflow
from floww.domain.provider_hooks import HookOutcome, hook_targets
from floww.domain.usecases.deps import ServerDeps

__all__ = ["register_provider_hooks"]

log = logging.getLogger("floww.provider_hooks")


def register_provider_hooks(
    deps: ServerDeps,
    workflow: Workflow,
    before: Sequence[TriggerSpec],
    after: Sequence[TriggerSpec],
) -> tuple[HookOutcome, ...]:
    """Register (``after``) and remove (only in ``before``) the workflow's provider webhooks;
    ``()`` when the server registers none (``deps.provider_hooks`` is ``None``)."""
    if deps.provider_hooks is None:
        return ()
    outcomes: list[HookOutcome] = []
    for target in hook_targets(deps.settings.base_url, workflow.id, before, after):
        provider = deps.repo.find_provider(workflow.namespace_id, target.provider)
        if provider is None:
            outcomes.append(
                HookOutcome.of(
                    target,
                    "failed",
                    f"provider {target.provider.key} is not configured; set it up, then "
                    f"add the webhook {target.url} in {target.target}'s settings by hand",
                )
            )
            continue
        try:
            outcome = deps.provider_hooks.apply(target, provider.config)
            if outcome.config_update:
                # Stripe's signing secret of the endpoint just created: stored, encrypted
                # like the rest of the provider's config.
                deps.repo.put_provider(
                    attrs.evolve(provider, config={**provider.config, **outcome.config_update})
                )
            outcomes.append(outcome)
        except Exception as exc:  # the deploy is stored: nothing here may fail it
            log.warning(
                "webhook of %s on %s not applied: %s",
                target.provider.key,
                target.target,
                type(exc).__name__,
            )
            outcomes.append(
                HookOutcome.of(
                    target,
                    "failed",
                    f"the webhook could not be registered ({type(exc).__name__}); add "
                    f"{target.url} in {target.target}'s settings by hand",
                )
            )
    return tuple(outcomes)
