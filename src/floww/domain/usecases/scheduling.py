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
from floww.domain.errors import InvalidInput, NotFound, Overloaded
from floww.domain.model import (
    ErrorInfo,
    Execution,
    ExecutionStatus,
    Principal,
    Trigger,
    TriggerSource,
    TriggerSpec,
)
from floww.domain.usecases.access import Action, require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.executions import new_execution, outcome, queue_execution

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
    """Run the tick if this caller claims it and wait for it (a host that starts runs detached
    returns it STARTED: its outcome is reported later); ``None`` when another process
    already did. NO_DEPLOYMENT when the trigger's deployment is no longer active; FAILED
    (``Overloaded``) when the workflow's queue is full: a tick is run at most once."""
    if not deps.repo.claim_cron_tick(tick.trigger.id, tick.scheduled_at):
        return None
    deployment = deps.repo.find_active_deployment(tick.trigger.workflow_id)
    if deployment is not None and deployment.id != tick.trigger.deployment_id:
        deployment = None
    slot, refused = None, None
    if deployment is not None:
        try:
            slot = deps.dispatcher.reserve(tick.trigger.workflow_id)
        except Overloaded as exc:
            refused = ErrorInfo("Overloaded", str(exc))
    event = {
        "scheduled_time": tick.scheduled_at.isoformat(),
        "expression": tick.trigger.spec.input.get("expression"),
    }
    try:
        execution = new_execution(
            deps,
            tick.trigger,
            event,
            dedupe_key=f"cron:{tick.trigger.id}:{tick.scheduled_at.isoformat()}",
            queued_for=deployment if slot is not None else None,
        )
    except BaseException:
        if slot is not None:
            slot.release()
        raise
    if slot is None or deployment is None:
        status = ExecutionStatus.FAILED if refused else ExecutionStatus.NO_DEPLOYMENT
        final = execution.transition(status, error=refused, finished_at=deps.clock.now())
        deps.repo.update_execution(final)
        return final
    # Nobody waits for a tick's answer: a host that can runs it detached.
    future = queue_execution(deps, slot, execution, deployment, tick.trigger, detached=True)
    return outcome(deps, future, execution.id)


def invoke_manual(
    deps: ServerDeps, principal: Principal, workflow_id: str, name: str, payload: Any
) -> Execution:
    """Run the active deployment's manual trigger ``name`` with ``payload`` and wait for it.
    ``NotFound`` for an unknown trigger name, ``InvalidInput`` for a payload that is not JSON."""
    require_workflow(deps.repo, principal, workflow_id, Action.RUN)
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
        raise NotFound(
            "manual trigger", name, "no active deployment declares it; deploy the code first"
        )
    trigger = matches[0]
    slot = deps.dispatcher.reserve(workflow_id)
    try:
        execution = new_execution(
            deps,
            trigger,
            {"input": payload, "triggered_by": principal.id},
            triggered_by=principal.id,
            queued_for=deployment,
        )
    except BaseException:
        slot.release()
        raise
    return outcome(deps, queue_execution(deps, slot, execution, deployment, trigger), execution.id)
