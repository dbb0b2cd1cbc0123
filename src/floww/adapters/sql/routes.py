"""Trigger and webhook rows: storing a replacement set (checked first by
``domain.triggers.check_trigger_set``) and finding the webhook a request is for.

A webhook row stores its path's *shape* (every parameter as ``{}``); for a static path that
is the normalized path itself. Ingress therefore probes the unique (workflow, method, shape,
source) index with the request path first, and only reads the templated candidates with as
many segments as the request when some source has no static match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, delete, func, select, update
from sqlalchemy.engine import Connection, Row

from floww.adapters.sql.codec import json_copy, trigger_from_row, webhook_from_row
from floww.adapters.sql.schema import executions, triggers, webhooks, workflows
from floww.domain.errors import Conflict, NotFound
from floww.domain.model import Trigger, TriggerSource, Webhook
from floww.domain.paths import PathTemplate, normalize_path
from floww.domain.routing import most_specific

__all__ = [
    "INSERT_EXECUTION_AT_VERSION",
    "VERSION",
    "changed",
    "find_webhooks",
    "get_trigger",
    "list_cron_triggers",
    "list_triggers",
    "list_webhooks",
    "replace",
    "trigger_rows",
    "version",
    "webhook_rows",
]

_SOURCE_ORDER = {source.value: rank for rank, source in enumerate(TriggerSource)}


def trigger_rows(
    workflow_id: str, source: TriggerSource, triggers: Sequence[Trigger]
) -> list[dict[str, Any]]:
    """Rows for ``triggers``, a set ``check_trigger_set`` accepted."""
    return [
        {
            "id": trigger.id,
            "workflow_id": workflow_id,
            "source": source.value,
            "position": position,
            "deployment_id": trigger.deployment_id,
            "provider_type": trigger.spec.provider.type,
            "provider_alias": trigger.spec.provider.alias,
            "trigger_type": trigger.spec.trigger_type,
            "input": json_copy(trigger.spec.input),
            "state": json_copy(trigger.state),
        }
        for position, trigger in enumerate(triggers)
    ]


def webhook_rows(
    workflow_id: str, source: TriggerSource, hooks: Sequence[Webhook]
) -> list[dict[str, Any]]:
    """Rows for ``hooks``, a set ``check_trigger_set`` accepted."""
    rows = []
    for position, hook in enumerate(hooks):
        template = PathTemplate.parse(hook.path)
        rows.append(
            {
                "id": hook.id,
                "workflow_id": workflow_id,
                "trigger_id": hook.trigger_id,
                "source": source.value,
                "position": position,
                "method": hook.method,
                "path": hook.path,
                "method_key": hook.method.upper(),
                "shape": template.shape,
                "segment_count": len(template.segments),
                "is_static": template.is_static,
                "owner_type": hook.owner.type,
                "owner_alias": hook.owner.alias,
            }
        )
    return rows


# Built once: the version probe runs on every webhook request.
VERSION = select(workflows.c.routes_version).where(workflows.c.id == bindparam("workflow_id"))

_EXECUTION_COLUMNS = [c for c in executions.c if c.name != "seq"]
INSERT_EXECUTION_AT_VERSION = executions.insert().from_select(
    [c.name for c in _EXECUTION_COLUMNS],
    select(*[bindparam(c.name, type_=c.type) for c in _EXECUTION_COLUMNS]).where(
        VERSION.scalar_subquery() == bindparam("expected_routes_version", type_=Integer())
    ),
)
"""A new execution, inserted only while its workflow's ``routes_version`` is the expected
one (no row when it moved or the workflow is gone)."""
_CHANGED = (
    update(workflows)
    .where(workflows.c.id == bindparam("workflow_id"))
    .values(routes_version=workflows.c.routes_version + 1)
)


def version(conn: Connection, workflow_id: str) -> int | None:
    """The workflow's ``routes_version``; ``None`` when there is no such workflow."""
    value = conn.execute(VERSION, {"workflow_id": workflow_id}).scalar()
    return None if value is None else int(value)


def changed(conn: Connection, workflow_id: str) -> None:
    """Raise the workflow's ``routes_version``, inside the transaction that changes them."""
    conn.execute(_CHANGED, {"workflow_id": workflow_id})


def find_webhooks(conn: Connection, workflow_id: str, method: str, path: str) -> list[Webhook]:
    """At most one webhook per source matching the request, ranked by
    ``floww.domain.routing`` (a static path, probed first, beats any template)."""
    method_key, request_path = method.upper(), normalize_path(path)
    static = conn.execute(
        select(webhooks).where(
            webhooks.c.workflow_id == workflow_id,
            webhooks.c.method_key == method_key,
            webhooks.c.shape == request_path,
            webhooks.c.is_static.is_(True),
        )
    ).all()
    best = {TriggerSource(row.source): webhook_from_row(row) for row in static}
    if len(best) < len(TriggerSource):
        segment_count = len([p for p in request_path.split("/") if p])
        candidates = conn.execute(
            select(webhooks).where(
                webhooks.c.workflow_id == workflow_id,
                webhooks.c.method_key == method_key,
                webhooks.c.segment_count == segment_count,
                webhooks.c.is_static.is_(False),
                webhooks.c.source.in_([s.value for s in TriggerSource if s not in best]),
            )
        ).all()
        for source in TriggerSource:
            found = most_specific(
                (
                    (PathTemplate.parse(row.path), row)
                    for row in candidates
                    if TriggerSource(row.source) is source
                ),
                request_path,
            )
            if found is not None:
                best[source] = webhook_from_row(found[0])
    return [best[source] for source in TriggerSource if source in best]


def replace(
    conn: Connection,
    workflow_id: str,
    source: TriggerSource,
    trigger_values: list[dict[str, Any]],
    hook_values: list[dict[str, Any]],
) -> None:
    """Make these rows the whole set of ``source`` for the workflow (inside the caller's
    transaction); ``Conflict`` when a trigger id belongs to another workflow or source."""
    for table in (webhooks, triggers):
        conn.execute(
            delete(table).where(table.c.workflow_id == workflow_id, table.c.source == source.value)
        )
    ids = [row["id"] for row in trigger_values]
    if ids:
        clash = conn.execute(select(func.min(triggers.c.id)).where(triggers.c.id.in_(ids))).scalar()
        if clash is not None:
            raise Conflict(f"trigger id {clash} is taken", trigger_id=clash)
        conn.execute(triggers.insert(), trigger_values)
    if hook_values:
        conn.execute(webhooks.insert(), hook_values)


def list_triggers(
    conn: Connection, workflow_id: str, source: TriggerSource | None
) -> list[Trigger]:
    query = select(triggers).where(triggers.c.workflow_id == workflow_id)
    if source is not None:
        query = query.where(triggers.c.source == source.value)
    return [trigger_from_row(row) for row in _in_order(conn.execute(query).all())]


def get_trigger(conn: Connection, trigger_id: str) -> Trigger:
    row = conn.execute(select(triggers).where(triggers.c.id == trigger_id)).first()
    if row is None:
        raise NotFound("trigger", trigger_id)
    return trigger_from_row(row)


def list_cron_triggers(conn: Connection) -> list[Trigger]:
    """Cron triggers of deployments only (dev sessions run their own schedule)."""
    rows = conn.execute(
        select(triggers)
        .where(
            triggers.c.trigger_type == "cron",
            triggers.c.source == TriggerSource.DEPLOYMENT.value,
        )
        .order_by(triggers.c.workflow_id, triggers.c.position)
    ).all()
    return [trigger_from_row(row) for row in rows]


def list_webhooks(conn: Connection, workflow_id: str) -> list[Webhook]:
    rows = conn.execute(select(webhooks).where(webhooks.c.workflow_id == workflow_id)).all()
    return [webhook_from_row(row) for row in _in_order(rows)]


def _in_order(rows: Sequence[Row[Any]]) -> list[Row[Any]]:
    """Deployment rows before dev rows, each in the order they were given."""
    return sorted(rows, key=lambda row: (_SOURCE_ORDER[row.source], row.position))
