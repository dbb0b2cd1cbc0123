"""Deployments, executions, cron ticks and KV items: the records of workflows at work. The
statements behind the repository's methods, each run inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from sqlalchemy import Select, bindparam, delete, func, literal_column, or_, select, update
from sqlalchemy.engine import Connection

from floww.adapters.sql import codec
from floww.adapters.sql.schema import cron_ticks, deployments, executions, kv_items, workflows
from floww.domain.errors import Conflict, InvalidInput, NotFound
from floww.domain.model import Deployment, DeploymentStatus, Execution, ExecutionStatus, KvItem

__all__ = [
    "UPDATE_EXECUTION",
    "activate_deployment",
    "claim_statement",
    "create_execution",
    "explain_create_conflict",
    "find_active_deployment",
    "find_execution_by_dedupe_key",
    "get_deployment",
    "get_execution",
    "hand_over_lease",
    "kv_delete",
    "kv_get",
    "kv_list",
    "kv_put_statement",
    "list_deployments",
    "list_executions",
    "list_lapsed_executions",
    "list_namespace_executions",
    "renew_leases",
    "take_over_execution",
    "update_execution",
    "update_values",
]

_UNFINISHED = [
    ExecutionStatus.RECEIVED.value,
    ExecutionStatus.QUEUED.value,
    ExecutionStatus.STARTED.value,
]
# The lease columns change only through the lease statements, never with an update: a version
# read before a renewal must not move the lease back.
_LEASE_COLUMNS = ("owner", "lease_expires_at")

_ACTIVE = DeploymentStatus.ACTIVE.value

# The hot path's two statements, built once (and compiled once: repo_base._HotStatements).
_INSERT = executions.insert()
# Spelled into the statement as constants: a list parameter would be expanded (and the
# statement's text rebuilt) on every execution.
_FINAL: list[Any] = [
    literal_column(f"'{status.value}'") for status in ExecutionStatus if status.is_final
]
_UPDATED = (
    "status",
    "deployment_id",
    "started_at",
    "finished_at",
    "duration_ms",
    "result",
    "error",
    "logs",
    "triggered_by",
    "trigger_id",
    "received_at",
)
UPDATE_EXECUTION = (
    update(executions)
    .where(
        executions.c.id == bindparam("k_id"),
        # Found by its id alone: the workflow is compared as an expression, which no index
        # serves. Compared as the column, it let PostgreSQL's planner, working from statistics
        # taken while the workflow had few executions, find the row by the index on
        # (workflow_id, received_at) instead: an update that read every execution of the
        # workflow, slower with each one stored (tests/integration/test_sql_repo.py).
        executions.c.workflow_id.concat(literal_column("''")) == bindparam("k_workflow_id"),
        or_(executions.c.status.not_in(_FINAL), executions.c.status == bindparam("k_status")),
        executions.c.dedupe_key.is_not_distinct_from(bindparam("k_dedupe_key")),
    )
    .values({name: bindparam(name) for name in _UPDATED})
)


def activate_deployment(conn: Connection, deployment: Deployment) -> Deployment | None:
    """Store ``deployment`` as active and deactivate the previous active one; the caller
    holds the workflow's lock. ``Conflict`` if the id belongs to another workflow."""
    owner = conn.execute(
        select(deployments.c.workflow_id).where(deployments.c.id == deployment.id)
    ).first()
    if owner is not None and owner.workflow_id != deployment.workflow_id:
        raise Conflict(f"deployment id {deployment.id} is taken", deployment_id=deployment.id)
    previous = conn.execute(
        select(deployments).where(
            deployments.c.workflow_id == deployment.workflow_id,
            deployments.c.status == _ACTIVE,
            deployments.c.id != deployment.id,
        )
    ).first()
    # deactivate before activating: a unique index allows one active deployment per workflow
    conn.execute(
        update(deployments)
        .where(deployments.c.workflow_id == deployment.workflow_id, deployments.c.status == _ACTIVE)
        .values(status=DeploymentStatus.INACTIVE.value)
    )
    values = codec.deployment_values(deployment) | {"status": _ACTIVE}
    if owner is None:
        conn.execute(deployments.insert().values(values))
    else:
        conn.execute(update(deployments).where(deployments.c.id == deployment.id).values(values))
    if previous is None:
        return None
    return attrs.evolve(codec.deployment_from_row(previous), status=DeploymentStatus.INACTIVE)


def get_deployment(conn: Connection, deployment_id: str) -> Deployment:
    row = conn.execute(select(deployments).where(deployments.c.id == deployment_id)).first()
    if row is None:
        raise NotFound("deployment", deployment_id)
    return codec.deployment_from_row(row)


def find_active_deployment(conn: Connection, workflow_id: str) -> Deployment | None:
    row = conn.execute(
        select(deployments).where(
            deployments.c.workflow_id == workflow_id, deployments.c.status == _ACTIVE
        )
    ).first()
    return None if row is None else codec.deployment_from_row(row)


def list_deployments(conn: Connection, workflow_id: str) -> list[Deployment]:
    """Newest first by ``created_at`` (undated last), then by insertion."""
    rows = conn.execute(
        select(deployments)
        .where(deployments.c.workflow_id == workflow_id)
        .order_by(deployments.c.created_at.desc().nulls_last(), deployments.c.seq.desc())
    ).all()
    return [codec.deployment_from_row(row) for row in rows]


def create_execution(conn: Connection, values: dict[str, Any]) -> None:
    """Insert: one statement, the constraints doing the checks (an ``IntegrityError`` the
    caller explains with ``explain_create_conflict`` after the rollback)."""
    conn.execute(_INSERT, values)


def explain_create_conflict(conn: Connection, execution: Execution) -> None:
    """Raise the error an insert of ``execution`` failed with: ``NotFound`` for a missing
    workflow, ``Conflict`` naming a taken id or the execution that has the dedupe key. Returns
    when none applies (a race removed the clash: the caller reports the original conflict)."""
    if (
        conn.execute(select(workflows.c.id).where(workflows.c.id == execution.workflow_id)).first()
        is None
    ):
        raise NotFound("workflow", execution.workflow_id)
    if _row(conn, execution.id) is not None:
        raise Conflict(f"execution id {execution.id} is taken", execution_id=execution.id)
    if execution.dedupe_key is not None:
        _refuse_dedupe_twin(conn, execution)


def update_values(execution: Execution) -> dict[str, Any]:
    """The parameters of ``UPDATE_EXECUTION`` for ``execution``: what an update may change (not the
    event, fixed at creation, nor the lease) and the conditions it is made under."""
    error = execution.error
    return {
        "status": execution.status.value,
        "deployment_id": execution.deployment_id,
        "started_at": execution.started_at,
        "finished_at": execution.finished_at,
        "duration_ms": execution.duration_ms,
        "result": codec.json_copy(execution.result),
        "error": (
            None
            if error is None
            else {"type": error.type, "message": error.message, "traceback": error.traceback}
        ),
        "logs": [codec.log_to_json(line) for line in execution.logs],
        "triggered_by": execution.triggered_by,
        "trigger_id": execution.trigger_id,
        "received_at": execution.received_at,
        "k_id": execution.id,
        "k_workflow_id": execution.workflow_id,
        "k_status": execution.status.value,
        "k_dedupe_key": execution.dedupe_key,
    }


def update_execution(conn: Connection, execution: Execution) -> None:
    """Replace the stored version (its event stays the one it was created with). ``NotFound``
    if absent, ``InvalidInput`` for a move to another workflow, ``Conflict`` when the stored
    status is final and would change or the dedupe key is another execution's.

    One conditional ``UPDATE`` in the common case (same workflow and dedupe key, a status
    that may change); the checks below run only when it changed no row."""
    if conn.execute(UPDATE_EXECUTION, update_values(execution)).rowcount == 1:
        return
    stored = conn.execute(
        select(executions.c.workflow_id, executions.c.status, executions.c.dedupe_key)
        .where(executions.c.id == execution.id)
        .with_for_update()
    ).first()
    if stored is None:
        raise NotFound("execution", execution.id)
    execution.check_replaces(stored.workflow_id, ExecutionStatus(stored.status))
    if execution.dedupe_key is not None and execution.dedupe_key != stored.dedupe_key:
        _refuse_dedupe_twin(conn, execution)
    values = codec.execution_values(execution)
    changes = {k: v for k, v in values.items() if k not in _LEASE_COLUMNS and k != "event"}
    conn.execute(update(executions).where(executions.c.id == execution.id).values(changes))


def get_execution(conn: Connection, execution_id: str) -> Execution:
    row = _row(conn, execution_id)
    if row is None:
        raise NotFound("execution", execution_id)
    return codec.execution_from_row(row)


def find_execution_by_dedupe_key(
    conn: Connection, workflow_id: str, dedupe_key: str
) -> Execution | None:
    row = conn.execute(
        select(executions).where(
            executions.c.workflow_id == workflow_id, executions.c.dedupe_key == dedupe_key
        )
    ).first()
    return None if row is None else codec.execution_from_row(row)


def list_executions(
    conn: Connection,
    workflow_id: str,
    *,
    status: ExecutionStatus | None,
    limit: int,
    before: datetime | None,
    since: datetime | None = None,
    trigger_id: str | None = None,
) -> list[Execution]:
    """Newest first by ``received_at``, then by insertion; served by the
    (workflow_id, received_at) index."""
    query = select(executions).where(executions.c.workflow_id == workflow_id)
    if trigger_id is not None:
        query = query.where(executions.c.trigger_id == trigger_id)
    return _page(conn, query, status=status, limit=limit, before=before, since=since)


def list_namespace_executions(
    conn: Connection,
    namespace_id: str,
    *,
    status: ExecutionStatus | None,
    limit: int,
    before: datetime | None,
    since: datetime | None,
) -> list[Execution]:
    """As ``list_executions``, over every workflow of the namespace."""
    in_namespace = select(workflows.c.id).where(workflows.c.namespace_id == namespace_id)
    query = select(executions).where(executions.c.workflow_id.in_(in_namespace))
    return _page(conn, query, status=status, limit=limit, before=before, since=since)


def _page(
    conn: Connection,
    query: Select[Any],
    *,
    status: ExecutionStatus | None,
    limit: int,
    before: datetime | None,
    since: datetime | None,
) -> list[Execution]:
    if status is not None:
        query = query.where(executions.c.status == status.value)
    if before is not None:
        query = query.where(executions.c.received_at < before)
    if since is not None:
        query = query.where(executions.c.received_at >= since)
    query = query.order_by(executions.c.received_at.desc(), executions.c.seq.desc()).limit(limit)
    return [codec.execution_from_row(row) for row in conn.execute(query)]


def renew_leases(conn: Connection, owner: str, until: datetime) -> int:
    result = conn.execute(
        update(executions)
        .where(executions.c.owner == owner, executions.c.status.in_(_UNFINISHED))
        .values(lease_expires_at=until)
    )
    return int(result.rowcount)


def _lapsed(now: datetime) -> Any:
    return executions.c.status.in_(_UNFINISHED) & (
        executions.c.lease_expires_at.is_(None) | (executions.c.lease_expires_at < now)
    )


def list_lapsed_executions(conn: Connection, now: datetime, limit: int) -> list[Execution]:
    """Oldest first; unfinished and without a live lease."""
    query = (
        select(executions)
        .where(_lapsed(now))
        .order_by(executions.c.received_at, executions.c.seq)
        .limit(limit)
    )
    return [codec.execution_from_row(row) for row in conn.execute(query)]


def take_over_execution(
    conn: Connection, execution_id: str, now: datetime, owner: str, until: datetime
) -> Execution | None:
    """A compare-and-set on the lapsed lease: one conditional update, so of several processes
    exactly one sees its row changed."""
    result = conn.execute(
        update(executions)
        .where(executions.c.id == execution_id, _lapsed(now))
        .values(owner=owner, lease_expires_at=until)
    )
    if result.rowcount != 1:
        return None
    return get_execution(conn, execution_id)


def hand_over_lease(
    conn: Connection, execution_id: str, owner: str, new_owner: str, until: datetime
) -> bool:
    """A compare-and-set on the holder: one conditional update."""
    result = conn.execute(
        update(executions)
        .where(
            executions.c.id == execution_id,
            executions.c.owner == owner,
            executions.c.status.in_(_UNFINISHED),
        )
        .values(owner=new_owner, lease_expires_at=until)
    )
    return int(result.rowcount) == 1


def _row(conn: Connection, execution_id: str) -> Any:
    return conn.execute(select(executions).where(executions.c.id == execution_id)).first()


def _refuse_dedupe_twin(conn: Connection, execution: Execution) -> None:
    twin = conn.execute(
        select(executions.c.id).where(
            executions.c.workflow_id == execution.workflow_id,
            executions.c.dedupe_key == execution.dedupe_key,
            executions.c.id != execution.id,
        )
    ).scalar()
    if twin is not None:
        raise Conflict(
            f"execution {twin} already has dedupe key {execution.dedupe_key!r}",
            execution_id=twin,
            dedupe_key=execution.dedupe_key,
        )


def claim_statement(insert: Any, trigger_id: str, scheduled_at: datetime) -> Any:
    """The insert of a cron tick that returns a row only for the caller that claimed it: the
    (trigger, scheduled time) primary key lets exactly one insert through, whichever process
    or replica runs it."""
    if scheduled_at.tzinfo is None:
        raise InvalidInput("timestamps must be timezone-aware")
    return (
        insert.values(trigger_id=trigger_id, scheduled_at=scheduled_at.astimezone(UTC))
        .on_conflict_do_nothing(index_elements=["trigger_id", "scheduled_at"])
        .returning(cron_ticks.c.trigger_id)
    )


def kv_get(conn: Connection, namespace_id: str, key: str) -> KvItem:
    row = conn.execute(
        select(kv_items).where(kv_items.c.namespace_id == namespace_id, kv_items.c.key == key)
    ).first()
    if row is None:
        raise NotFound("kv item", key)
    return codec.kv_from_row(row)


def kv_put_statement(
    insert: Any, namespace_id: str, key: str, value: Any, at: datetime
) -> tuple[KvItem, Any]:
    """The item to store and its upsert; ``InvalidInput`` for an empty key, a value that is
    not JSON or a naive time."""
    if not key:
        raise InvalidInput("a KV key must not be empty")
    if at.tzinfo is None:
        raise InvalidInput("timestamps must be timezone-aware")
    item = KvItem(namespace_id, key, codec.json_copy(value), at.astimezone(UTC))
    stmt = insert.values(
        namespace_id=namespace_id, key=key, value=item.value, updated_at=item.updated_at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["namespace_id", "key"],
        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
    )
    return item, stmt


def kv_delete(conn: Connection, namespace_id: str, key: str) -> None:
    result = conn.execute(
        delete(kv_items).where(kv_items.c.namespace_id == namespace_id, kv_items.c.key == key)
    )
    if result.rowcount == 0:
        raise NotFound("kv item", key)


def kv_list(conn: Connection, namespace_id: str, prefix: str) -> list[KvItem]:
    """Items of the namespace whose key starts with ``prefix`` (case-sensitive), by key."""
    query = select(kv_items).where(kv_items.c.namespace_id == namespace_id)
    if prefix:
        query = query.where(func.substr(kv_items.c.key, 1, len(prefix)) == prefix)
    return sorted(map(codec.kv_from_row, conn.execute(query).all()), key=lambda item: item.key)
