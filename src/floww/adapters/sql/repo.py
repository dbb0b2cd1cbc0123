"""SqlWorkflowRepo: the WorkflowRepo on SQLite or PostgreSQL through SQLAlchemy Core.

Each method is one transaction. Unique keys and parents are enforced by the schema; where the
port promises a specific error (``NotFound`` for a missing parent, a ``Conflict`` naming the
clash) the method checks first inside the same transaction, and the constraints stay as the
backstop for races (an ``IntegrityError`` becomes ``Conflict``). Database outages raise
``Unavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import select

from floww.adapters.sql import codec, lifecycle, records, routes
from floww.adapters.sql.repo_base import blocking_calls_off_loop
from floww.adapters.sql.repo_tenancy import SqlTenancy
from floww.adapters.sql.retention import SqlRetention
from floww.adapters.sql.schema import cron_ticks, kv_items, runtimes
from floww.domain.errors import Conflict, InvalidInput, NotFound
from floww.domain.model import (
    Deployment,
    Execution,
    ExecutionStatus,
    KvItem,
    Runtime,
    Trigger,
    TriggerSource,
    Webhook,
)
from floww.domain.triggers import check_trigger_set
from floww.ports.loop_bridge import off_loop
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["SqlWorkflowRepo"]


@blocking_calls_off_loop
class SqlWorkflowRepo(SqlTenancy, SqlRetention, WorkflowRepo):
    """The port's rules plus those of the in-memory fake: parents must exist (``NotFound``),
    a final execution status never changes (``Conflict``). Provider configs are sealed with
    ``secret_box`` before they reach the database and opened on every read. The schema must
    be migrated first (``floww.adapters.sql.migrate``)."""

    # triggers and webhooks ----------------------------------------------------------------

    def replace_triggers(
        self,
        workflow_id: str,
        source: TriggerSource,
        triggers: Sequence[Trigger],
        webhooks: Sequence[Webhook],
    ) -> None:
        check_trigger_set(workflow_id, source, triggers, webhooks)
        trigger_values = routes.trigger_rows(workflow_id, source, tuple(triggers))
        hook_values = routes.webhook_rows(workflow_id, source, tuple(webhooks))
        with self._tx.write() as conn:
            self._lock_workflow(conn, workflow_id)
            routes.replace(conn, workflow_id, source, trigger_values, hook_values)
            routes.changed(conn, workflow_id)

    def list_triggers(self, workflow_id: str, source: TriggerSource | None = None) -> list[Trigger]:
        with self._tx.read() as conn:
            return routes.list_triggers(conn, workflow_id, source)

    def get_trigger(self, trigger_id: str) -> Trigger:
        with self._tx.read() as conn:
            return routes.get_trigger(conn, trigger_id)

    def list_cron_triggers(self) -> list[Trigger]:
        with self._tx.read() as conn:
            return routes.list_cron_triggers(conn)

    def list_webhooks(self, workflow_id: str) -> list[Webhook]:
        with self._tx.read() as conn:
            return routes.list_webhooks(conn, workflow_id)

    def find_webhooks(self, workflow_id: str, method: str, path: str) -> list[Webhook]:
        with self._tx.read() as conn:
            return routes.find_webhooks(conn, workflow_id, method, path)

    def routes_version(self, workflow_id: str) -> int | None:
        # once per webhook request: one statement on a kept connection (direct.py)
        value = self._direct.scalar(self._hot.routes_version, {"workflow_id": workflow_id})
        return None if value is None else int(value)

    # runtimes -----------------------------------------------------------------------------

    def save_runtime(self, runtime: Runtime) -> None:
        values = {
            "namespace_id": runtime.namespace_id,
            "spec_hash": runtime.spec_hash,
            "image_ref": runtime.image_ref,
            "status": runtime.status.value,
            "error": runtime.error,
            "created_at": runtime.created_at,
        }
        with self._tx.write() as conn:
            self._require_namespace(conn, runtime.namespace_id)
            other = conn.execute(
                select(runtimes.c.id).where(
                    runtimes.c.namespace_id == runtime.namespace_id,
                    runtimes.c.spec_hash == runtime.spec_hash,
                    runtimes.c.id != runtime.id,
                )
            ).scalar()
            if other is not None:
                raise Conflict(
                    f"namespace already has runtime {other} for spec {runtime.spec_hash}",
                    runtime_id=other,
                )
            stmt = self._tx.upsert(runtimes).values(id=runtime.id, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))

    def get_runtime(self, runtime_id: str) -> Runtime:
        with self._tx.read() as conn:
            row = conn.execute(select(runtimes).where(runtimes.c.id == runtime_id)).first()
        if row is None:
            raise NotFound("runtime", runtime_id)
        return codec.runtime_from_row(row)

    def find_runtime(self, namespace_id: str, spec_hash: str) -> Runtime | None:
        with self._tx.read() as conn:
            row = conn.execute(
                select(runtimes).where(
                    runtimes.c.namespace_id == namespace_id, runtimes.c.spec_hash == spec_hash
                )
            ).first()
        return None if row is None else codec.runtime_from_row(row)

    # deployments --------------------------------------------------------------------------

    def activate_deployment(self, deployment: Deployment) -> Deployment | None:
        with self._tx.write() as conn:
            self._lock_workflow(conn, deployment.workflow_id)
            routes.changed(conn, deployment.workflow_id)
            return records.activate_deployment(conn, deployment)

    def get_deployment(self, deployment_id: str) -> Deployment:
        with self._tx.read() as conn:
            return records.get_deployment(conn, deployment_id)

    def find_active_deployment(self, workflow_id: str) -> Deployment | None:
        with self._tx.read() as conn:
            return records.find_active_deployment(conn, workflow_id)

    def list_deployments(self, workflow_id: str) -> list[Deployment]:
        with self._tx.read() as conn:
            return records.list_deployments(conn, workflow_id)

    def deactivate_deployment(self, workflow_id: str) -> Deployment | None:
        with self._tx.write() as conn:
            self._lock_workflow(conn, workflow_id)
            routes.changed(conn, workflow_id)
            return lifecycle.deactivate_deployment(conn, workflow_id)

    def delete_workflow(self, workflow_id: str) -> list[Runtime]:
        with self._tx.write() as conn:
            self._lock_workflow(conn, workflow_id)
            return lifecycle.delete_workflow(conn, workflow_id)

    # executions ---------------------------------------------------------------------------

    def create_execution(self, execution: Execution, *, routes_version: int | None = None) -> bool:
        values = codec.execution_values(execution)
        if routes_version is None:
            insert = self._hot.insert_execution
        else:
            # one statement: stored only while the workflow's routes are at that version
            insert = self._hot.insert_execution_at_version
            values["expected_routes_version"] = routes_version
        try:
            stored = self._write_execution(insert, values)
        except Conflict:
            off_loop(self._explain_conflict, execution)
            raise
        return routes_version is None or stored == 1

    def find_execution_by_dedupe_key(self, workflow_id: str, dedupe_key: str) -> Execution | None:
        with self._tx.read() as conn:
            return records.find_execution_by_dedupe_key(conn, workflow_id, dedupe_key)

    def update_execution(self, execution: Execution) -> None:
        # The common case is one conditional UPDATE, grouped with other executions' writes;
        # when it changes no row, the checked path says why (records.update_execution).
        if self._write_execution(self._hot.update_execution, records.update_values(execution)) == 1:
            return
        off_loop(self._update_checked, execution)

    def _explain_conflict(self, execution: Execution) -> None:
        with self._tx.read() as conn:
            records.explain_create_conflict(conn, execution)

    def _update_checked(self, execution: Execution) -> None:
        with self._tx.write() as conn:
            records.update_execution(conn, execution)

    def get_execution(self, execution_id: str) -> Execution:
        with self._tx.read() as conn:
            return records.get_execution(conn, execution_id)

    def list_executions(
        self,
        workflow_id: str,
        *,
        status: ExecutionStatus | None = None,
        limit: int = 50,
        before: datetime | None = None,
        since: datetime | None = None,
        trigger_id: str | None = None,
    ) -> list[Execution]:
        _check_page(limit, before, since)
        with self._tx.read() as conn:
            return records.list_executions(
                conn,
                workflow_id,
                status=status,
                limit=limit,
                before=before,
                since=since,
                trigger_id=trigger_id,
            )

    def list_namespace_executions(
        self,
        namespace_id: str,
        *,
        status: ExecutionStatus | None = None,
        limit: int = 50,
        before: datetime | None = None,
        since: datetime | None = None,
    ) -> list[Execution]:
        _check_page(limit, before, since)
        with self._tx.read() as conn:
            return records.list_namespace_executions(
                conn, namespace_id, status=status, limit=limit, before=before, since=since
            )

    def renew_leases(self, owner: str, until: datetime) -> int:
        _aware(until)
        with self._tx.write() as conn:
            return records.renew_leases(conn, owner, until)

    def list_lapsed_executions(self, now: datetime, limit: int = 100) -> list[Execution]:
        if limit < 0:
            raise InvalidInput("limit must not be negative")
        _aware(now)
        with self._tx.read() as conn:
            return records.list_lapsed_executions(conn, now, limit)

    def take_over_execution(
        self, execution_id: str, now: datetime, owner: str, until: datetime
    ) -> Execution | None:
        _aware(now)
        _aware(until)
        with self._tx.write() as conn:
            return records.take_over_execution(conn, execution_id, now, owner, until)

    def hand_over_lease(
        self, execution_id: str, owner: str, new_owner: str, until: datetime
    ) -> bool:
        _aware(until)
        with self._tx.write() as conn:
            return records.hand_over_lease(conn, execution_id, owner, new_owner, until)

    # cron ---------------------------------------------------------------------------------

    def claim_cron_tick(self, trigger_id: str, scheduled_at: datetime) -> bool:
        stmt = records.claim_statement(self._tx.upsert(cron_ticks), trigger_id, scheduled_at)
        with self._tx.write() as conn:
            return conn.execute(stmt).first() is not None

    # key-value ----------------------------------------------------------------------------

    def kv_get(self, namespace_id: str, key: str) -> KvItem:
        with self._tx.read() as conn:
            return records.kv_get(conn, namespace_id, key)

    def kv_put(self, namespace_id: str, key: str, value: Any, at: datetime) -> KvItem:
        item, stmt = records.kv_put_statement(
            self._tx.upsert(kv_items), namespace_id, key, value, at
        )
        with self._tx.write() as conn:
            self._require_namespace(conn, namespace_id)
            conn.execute(stmt)
        return attrs.evolve(item, value=codec.json_copy(item.value))

    def kv_delete(self, namespace_id: str, key: str) -> None:
        with self._tx.write() as conn:
            records.kv_delete(conn, namespace_id, key)

    def kv_list(self, namespace_id: str, prefix: str = "") -> list[KvItem]:
        with self._tx.read() as conn:
            return records.kv_list(conn, namespace_id, prefix)


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise InvalidInput("timestamps must be timezone-aware")


def _check_page(limit: int, before: datetime | None, since: datetime | None) -> None:
    if limit < 0:
        raise InvalidInput("limit must not be negative")
    for moment in (before, since):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("timestamps must be timezone-aware")
