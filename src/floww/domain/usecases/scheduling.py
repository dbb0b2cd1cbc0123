"""Cron ticks and manual runs.

A cron tick is one (trigger, scheduled time). It is claimed in the repository first, so that
several server processes never both run it; the event carries the real scheduled time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import attrs

from floww.domain.cron import CronSchedule
from floww.domain.errors import InvalidInput, NotFound
from floww.domain.model import (
    Execution,
    ExecutionStatus,
    Principal,
    Trigger,
    TriggerSource,
    TriggerSpec,
)
from floww.domain.usecases.access import require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.executions import new_execution, run_execution

__all__ = [
    "CronTick",
    "cron_schedule",
    "due_cron_ticks",
    "due_ticks",
    "fire_cron_tick",
    "invoke_manual",
]

T = TypeVar("T")


@attrs.frozen
class CronTick:
    trigger: Trigger
    scheduled_at: datetime


def cron_schedule(spec: TriggerSpec) -> CronSchedule | None:
    """The schedule of a builtin cron trigger; ``None`` for any other trigger and for an
    expression that does not parse (sync refuses those, so one never stops the others)."""
    if spec.provider.type != "builtin" or spec.trigger_type != "cron":
        return None
    try:
        return CronSchedule.parse(str(spec.input.get("expression", "")))
    except InvalidInput:
        return None


def due_ticks(
    items: Iterable[T], spec_of: Callable[[T], TriggerSpec], after: datetime, until: datetime
) -> list[tuple[T, datetime]]:
    """Every fire time in (``after``, ``until``] of the cron triggers among ``items``, oldest
    first: the one rule of the server's scheduler and of ``floww dev``'s local cron."""
    ticks: list[tuple[T, datetime]] = []
    for item in items:
        schedule = cron_schedule(spec_of(item))
        if schedule is None:
            continue
        for moment in schedule.fire_times_after(after):
            if moment > until:
                break
            ticks.append((item, moment))
    return sorted(ticks, key=lambda tick: tick[1])


def due_cron_ticks(triggers: list[Trigger], after: datetime, until: datetime) -> list[CronTick]:
    """Every fire time in (``after``, ``until``] of the given cron triggers, oldest first."""
    return [
        CronTick(trigger, moment)
        for trigger, moment in due_ticks(triggers, lambda t: t.spec, after, until)
    ]


def fire_cron_tick(deps: ServerDeps, tick: CronTick) -> Execution | None:
    """Run the tick if this caller claims it; ``None`` when another process already did, or
    when the trigger's deployment is no longer active."""
    if not deps.repo.claim_cron_tick(tick.trigger.id, tick.scheduled_at):
        return None
    deployment = deps.repo.find_active_deployment(tick.trigger.workflow_id)
    event = {
        "scheduled_time": tick.scheduled_at.isoformat(),
        "expression": tick.trigger.spec.input.get("expression"),
    }
    execution = new_execution(
        deps,
        tick.trigger,
        event,
        dedupe_key=f"cron:{tick.trigger.id}:{tick.scheduled_at.isoformat()}",
    )
    if deployment is None or deployment.id != tick.trigger.deployment_id:
        final = execution.transition(ExecutionStatus.NO_DEPLOYMENT, finished_at=deps.clock.now())
        deps.repo.update_execution(final)
        return final
    return run_execution(deps, execution, deployment, tick.trigger)


def invoke_manual(
    deps: ServerDeps, principal: Principal, workflow_id: str, name: str, payload: Any
) -> Execution:
    """Run the active deployment's manual trigger ``name`` with ``payload`` and wait for it.
    ``NotFound`` for an unknown trigger name, ``InvalidInput`` for a payload that is not JSON."""
    require_workflow(deps.repo, principal, workflow_id)
    if not isinstance(payload, dict | list | str | int | float | bool | type(None)):
        raise InvalidInput("manual input must be JSON")
    matches = [
        t
        for t in deps.repo.list_triggers(workflow_id, TriggerSource.DEPLOYMENT)
        if t.spec.provider.type == "builtin"
        and t.spec.trigger_type == "manual"
        and t.spec.input.get("name") == name
    ]
    deployment = deps.repo.find_active_deployment(workflow_id)
    if not matches or deployment is None:
        raise NotFound("manual trigger", f"{name} (no active deployment declares it; deploy first)")
    trigger = matches[0]
    execution = new_execution(
        deps, trigger, {"input": payload, "triggered_by": principal.id}, triggered_by=principal.id
    )
    return run_execution(deps, execution, deployment, trigger)
