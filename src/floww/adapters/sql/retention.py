"""Execution retention of ``SqlWorkflowRepo``: one bounded batch per call, in one
transaction. Old executions are found through the primary key order, the executions past a
workflow's count through its (workflow_id, received_at) index, so a batch never sorts the
whole table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.engine import Connection

from floww.adapters.sql.repo_base import SqlRepoBase
from floww.adapters.sql.schema import executions
from floww.domain.model import ExecutionStatus
from floww.domain.usecases.retention import check_prune_request

__all__ = ["SqlRetention"]

_FINAL = [status.value for status in ExecutionStatus if status.is_final]
# How many crowded workflows one batch looks at.
_WORKFLOWS_PER_BATCH = 50


class SqlRetention(SqlRepoBase):
    def prune_executions(
        self, *, received_before: datetime, keep_per_workflow: int, limit: int = 500
    ) -> int:
        check_prune_request(received_before, keep_per_workflow, limit)
        with self._tx.write() as conn:
            doomed = _too_old(conn, received_before, limit)
            if len(doomed) < limit:
                doomed |= _past_count(conn, keep_per_workflow, limit - len(doomed), doomed)
            if doomed:
                conn.execute(delete(executions).where(executions.c.seq.in_(sorted(doomed))))
            return len(doomed)


def _too_old(conn: Connection, received_before: datetime, limit: int) -> set[int]:
    query = (
        select(executions.c.seq)
        .where(executions.c.status.in_(_FINAL), executions.c.received_at < received_before)
        .order_by(executions.c.seq)
        .limit(limit)
    )
    return set(conn.execute(query).scalars())


def _past_count(conn: Connection, keep: int, budget: int, already: set[int]) -> set[int]:
    crowded = conn.execute(
        select(executions.c.workflow_id)
        .group_by(executions.c.workflow_id)
        .having(func.count() > keep)
        .limit(_WORKFLOWS_PER_BATCH)
    ).scalars()
    found: set[int] = set()
    for workflow_id in list(crowded):
        if len(found) >= budget:
            break
        boundary = conn.execute(
            select(executions.c.received_at, executions.c.seq)
            .where(executions.c.workflow_id == workflow_id)
            .order_by(executions.c.received_at.desc(), executions.c.seq.desc())
            .offset(keep)
            .limit(1)
        ).first()
        if boundary is None:
            continue
        older: Any = or_(
            executions.c.received_at < boundary.received_at,
            and_(
                executions.c.received_at == boundary.received_at,
                executions.c.seq <= boundary.seq,
            ),
        )
        query = (
            select(executions.c.seq)
            .where(executions.c.workflow_id == workflow_id, executions.c.status.in_(_FINAL), older)
            .order_by(executions.c.received_at, executions.c.seq)
            .limit(budget - len(found) + len(already))
        )
        found.update(seq for seq in conn.execute(query).scalars() if seq not in already)
    return set(sorted(found)[:budget])
