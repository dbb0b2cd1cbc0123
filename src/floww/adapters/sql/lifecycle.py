"""Deactivating a workflow's deployment and deleting a workflow whole, each inside the
caller's transaction (the caller locked the workflow row)."""

from __future__ import annotations

import attrs
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from floww.adapters.sql import codec
from floww.adapters.sql.schema import (
    cron_ticks,
    deployments,
    executions,
    runtimes,
    triggers,
    webhooks,
    workflows,
)
from floww.domain.model import Deployment, DeploymentStatus, Runtime

__all__ = ["deactivate_deployment", "delete_workflow"]

_ACTIVE = DeploymentStatus.ACTIVE.value


def deactivate_deployment(conn: Connection, workflow_id: str) -> Deployment | None:
    row = conn.execute(
        select(deployments).where(
            deployments.c.workflow_id == workflow_id, deployments.c.status == _ACTIVE
        )
    ).first()
    if row is None:
        return None
    conn.execute(
        update(deployments)
        .where(deployments.c.id == row.id)
        .values(status=DeploymentStatus.INACTIVE.value)
    )
    return attrs.evolve(codec.deployment_from_row(row), status=DeploymentStatus.INACTIVE)


def delete_workflow(conn: Connection, workflow_id: str) -> list[Runtime]:
    """Rows are deleted explicitly, children first, rather than left to ``ON DELETE CASCADE``
    (which SQLite honours only on connections that turned foreign keys on)."""
    used = set(
        conn.execute(
            select(deployments.c.runtime_id).where(deployments.c.workflow_id == workflow_id)
        ).scalars()
    )
    trigger_ids = select(triggers.c.id).where(triggers.c.workflow_id == workflow_id)
    conn.execute(delete(cron_ticks).where(cron_ticks.c.trigger_id.in_(trigger_ids)))
    conn.execute(delete(webhooks).where(webhooks.c.workflow_id == workflow_id))
    conn.execute(delete(triggers).where(triggers.c.workflow_id == workflow_id))
    conn.execute(delete(executions).where(executions.c.workflow_id == workflow_id))
    conn.execute(delete(deployments).where(deployments.c.workflow_id == workflow_id))
    conn.execute(delete(workflows).where(workflows.c.id == workflow_id))
    if not used:
        return []
    still_used = set(
        conn.execute(
            select(deployments.c.runtime_id).where(deployments.c.runtime_id.in_(used))
        ).scalars()
    )
    unused = sorted(used - still_used)
    rows = conn.execute(select(runtimes).where(runtimes.c.id.in_(unused))).all()
    conn.execute(delete(runtimes).where(runtimes.c.id.in_(unused)))
    return sorted((codec.runtime_from_row(row) for row in rows), key=lambda r: r.id)
