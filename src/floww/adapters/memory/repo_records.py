"""Runtimes, deployments, executions, cron ticks and key-value items of
``InMemoryWorkflowRepo``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from floww.adapters.memory.repo_tables import RepoTables
from floww.domain.canonical import json_copy
from floww.domain.errors import Conflict, InvalidInput, NotFound
from floww.domain.model import (
    Deployment,
    DeploymentStatus,
    Execution,
    ExecutionStatus,
    KvItem,
    Runtime,
)

__all__ = ["RecordTables"]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput("timestamps must be timezone-aware")
    return moment.astimezone(UTC)


def _lapsed(execution: Execution, now: datetime) -> bool:
    lease = execution.lease_expires_at
    return not execution.status.is_final and (lease is None or lease < now)


class RecordTables(RepoTables):
    """What deploying and running leave behind: runtimes, deployments, executions, claimed
    cron ticks and each namespace's key-value items."""

    # runtimes -----------------------------------------------------------------------------

    def save_runtime(self, runtime: Runtime) -> None:
        with self._lock:
            self._namespace(runtime.namespace_id)
            for other in self._runtimes.values():
                if (
                    other.id != runtime.id
                    and other.namespace_id == runtime.namespace_id
                    and other.spec_hash == runtime.spec_hash
                ):
                    raise Conflict(
                        f"namespace already has runtime {other.id} for spec {runtime.spec_hash}",
                        runtime_id=other.id,
                    )
            self._runtimes[runtime.id] = runtime

    def get_runtime(self, runtime_id: str) -> Runtime:
        with self._lock:
            if runtime_id not in self._runtimes:
                raise NotFound("runtime", runtime_id)
            return self._runtimes[runtime_id]

    def find_runtime(self, namespace_id: str, spec_hash: str) -> Runtime | None:
        with self._lock:
            for runtime in self._runtimes.values():
                if runtime.namespace_id == namespace_id and runtime.spec_hash == spec_hash:
                    return runtime
        return None

    # deployments --------------------------------------------------------------------------

    def activate_deployment(self, deployment: Deployment) -> Deployment | None:
        with self._lock:
            self._workflow(deployment.workflow_id)
            existing = self._deployments.get(deployment.id)
            if existing is not None and existing[1].workflow_id != deployment.workflow_id:
                raise Conflict(
                    f"deployment id {deployment.id} is taken", deployment_id=deployment.id
                )
            previous = self._active(deployment.workflow_id)
            if previous is not None and previous.id != deployment.id:
                seq, _ = self._deployments[previous.id]
                previous = attrs.evolve(previous, status=DeploymentStatus.INACTIVE)
                self._deployments[previous.id] = (seq, previous)
            else:
                previous = None
            seq = existing[0] if existing is not None else next(self._sequence)
            active = attrs.evolve(deployment, status=DeploymentStatus.ACTIVE)
            self._deployments[deployment.id] = (seq, active)
            self._routes_changed(deployment.workflow_id)
            return previous

    def get_deployment(self, deployment_id: str) -> Deployment:
        with self._lock:
            if deployment_id not in self._deployments:
                raise NotFound("deployment", deployment_id)
            return self._deployments[deployment_id][1]

    def find_active_deployment(self, workflow_id: str) -> Deployment | None:
        with self._lock:
            return self._active(workflow_id)

    def list_deployments(self, workflow_id: str) -> list[Deployment]:
        with self._lock:
            found = [
                entry for entry in self._deployments.values() if entry[1].workflow_id == workflow_id
            ]
        epoch = datetime.min.replace(tzinfo=UTC)
        found.sort(key=lambda e: (e[1].created_at or epoch, e[0]), reverse=True)
        return [deployment for _, deployment in found]

    def _active(self, workflow_id: str) -> Deployment | None:
        for _, deployment in self._deployments.values():
            if (
                deployment.workflow_id == workflow_id
                and deployment.status is DeploymentStatus.ACTIVE
            ):
                return deployment
        return None

    # executions ---------------------------------------------------------------------------

    def create_execution(self, execution: Execution, *, routes_version: int | None = None) -> bool:
        with self._lock:
            if routes_version is not None and (
                execution.workflow_id not in self._workflows
                or self._routes_versions.get(execution.workflow_id, 0) != routes_version
            ):
                return False
            self._workflow(execution.workflow_id)
            if execution.id in self._executions:
                raise Conflict(f"execution id {execution.id} is taken", execution_id=execution.id)
            if execution.dedupe_key is not None:
                twin = self._by_dedupe_key(execution.workflow_id, execution.dedupe_key)
                if twin is not None:
                    raise Conflict(
                        f"execution {twin.id} already has dedupe key {execution.dedupe_key!r}",
                        execution_id=twin.id,
                        dedupe_key=execution.dedupe_key,
                    )
            self._executions[execution.id] = (next(self._sequence), execution)
            return True

    def find_execution_by_dedupe_key(self, workflow_id: str, dedupe_key: str) -> Execution | None:
        with self._lock:
            return self._by_dedupe_key(workflow_id, dedupe_key)

    def update_execution(self, execution: Execution) -> None:
        with self._lock:
            if execution.id not in self._executions:
                raise NotFound("execution", execution.id)
            seq, stored = self._executions[execution.id]
            execution.check_replaces(stored.workflow_id, stored.status)
            if execution.dedupe_key != stored.dedupe_key and execution.dedupe_key is not None:
                twin = self._by_dedupe_key(execution.workflow_id, execution.dedupe_key)
                if twin is not None and twin.id != execution.id:
                    raise Conflict(
                        f"execution {twin.id} already has dedupe key {execution.dedupe_key!r}",
                        execution_id=twin.id,
                    )
            # The lease changes only through the lease methods; the event never changes.
            kept = attrs.evolve(
                execution,
                event=stored.event,  # fixed at creation
                owner=stored.owner,
                lease_expires_at=stored.lease_expires_at,
            )
            self._executions[execution.id] = (seq, kept)

    def get_execution(self, execution_id: str) -> Execution:
        with self._lock:
            if execution_id not in self._executions:
                raise NotFound("execution", execution_id)
            return self._executions[execution_id][1]

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
        return self._select_executions(
            lambda ex: (
                ex.workflow_id == workflow_id
                and (trigger_id is None or ex.trigger_id == trigger_id)
            ),
            status=status,
            limit=limit,
            before=before,
            since=since,
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
        with self._lock:
            ids = {w.id for w in self._workflows.values() if w.namespace_id == namespace_id}
        return self._select_executions(
            lambda ex: ex.workflow_id in ids, status=status, limit=limit, before=before, since=since
        )

    def _select_executions(
        self,
        keep: Callable[[Execution], bool],
        *,
        status: ExecutionStatus | None,
        limit: int,
        before: datetime | None,
        since: datetime | None,
    ) -> list[Execution]:
        if limit < 0:
            raise InvalidInput("limit must not be negative")
        before = None if before is None else _utc(before)
        since = None if since is None else _utc(since)
        with self._lock:
            found = [
                (seq, ex)
                for seq, ex in self._executions.values()
                if keep(ex)
                and (status is None or ex.status == status)
                and (before is None or ex.received_at < before)
                and (since is None or ex.received_at >= since)
            ]
        found.sort(key=lambda entry: (entry[1].received_at, entry[0]), reverse=True)
        return [ex for _, ex in found[:limit]]

    def renew_leases(self, owner: str, until: datetime) -> int:
        until = _utc(until)
        renewed = 0
        with self._lock:
            for key, (seq, ex) in list(self._executions.items()):
                if ex.owner == owner and not ex.status.is_final:
                    self._executions[key] = (seq, attrs.evolve(ex, lease_expires_at=until))
                    renewed += 1
        return renewed

    def list_lapsed_executions(self, now: datetime, limit: int = 100) -> list[Execution]:
        if limit < 0:
            raise InvalidInput("limit must not be negative")
        now = _utc(now)
        with self._lock:
            found = [(seq, ex) for seq, ex in self._executions.values() if _lapsed(ex, now)]
        found.sort(key=lambda entry: (entry[1].received_at, entry[0]))
        return [ex for _, ex in found[:limit]]

    def take_over_execution(
        self, execution_id: str, now: datetime, owner: str, until: datetime
    ) -> Execution | None:
        now, until = _utc(now), _utc(until)
        with self._lock:
            entry = self._executions.get(execution_id)
            if entry is None or not _lapsed(entry[1], now):
                return None
            taken = attrs.evolve(entry[1], owner=owner, lease_expires_at=until)
            self._executions[execution_id] = (entry[0], taken)
            return taken

    def hand_over_lease(
        self, execution_id: str, owner: str, new_owner: str, until: datetime
    ) -> bool:
        until = _utc(until)
        with self._lock:
            entry = self._executions.get(execution_id)
            if entry is None or entry[1].owner != owner or entry[1].status.is_final:
                return False
            handed = attrs.evolve(entry[1], owner=new_owner, lease_expires_at=until)
            self._executions[execution_id] = (entry[0], handed)
            return True

    def _by_dedupe_key(self, workflow_id: str, dedupe_key: str) -> Execution | None:
        for _, execution in self._executions.values():
            if execution.workflow_id == workflow_id and execution.dedupe_key == dedupe_key:
                return execution
        return None

    # cron ---------------------------------------------------------------------------------

    def claim_cron_tick(self, trigger_id: str, scheduled_at: datetime) -> bool:
        key = (trigger_id, _utc(scheduled_at))
        with self._lock:
            if key in self._cron_ticks:
                return False
            self._cron_ticks.add(key)
            return True

    # key-value ----------------------------------------------------------------------------

    def kv_get(self, namespace_id: str, key: str) -> KvItem:
        with self._lock:
            item = self._kv.get((namespace_id, key))
        if item is None:
            raise NotFound("kv item", key)
        return attrs.evolve(item, value=json_copy(item.value))

    def kv_put(self, namespace_id: str, key: str, value: Any, at: datetime) -> KvItem:
        if not key:
            raise InvalidInput("a KV key must not be empty")
        item = KvItem(namespace_id, key, json_copy(value), _utc(at))
        with self._lock:
            self._namespace(namespace_id)
            self._kv[(namespace_id, key)] = item
        return attrs.evolve(item, value=json_copy(item.value))

    def kv_delete(self, namespace_id: str, key: str) -> None:
        with self._lock:
            if self._kv.pop((namespace_id, key), None) is None:
                raise NotFound("kv item", key)

    def kv_list(self, namespace_id: str, prefix: str = "") -> list[KvItem]:
        with self._lock:
            found = [
                item
                for (ns, key), item in self._kv.items()
                if ns == namespace_id and key.startswith(prefix)
            ]
        return [
            attrs.evolve(i, value=json_copy(i.value)) for i in sorted(found, key=lambda i: i.key)
        ]
