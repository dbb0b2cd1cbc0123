"""Deactivating a workflow's deployment and deleting a workflow whole, in
``InMemoryWorkflowRepo``."""

from __future__ import annotations

import attrs

from floww.adapters.memory.repo_tables import RepoTables
from floww.domain.model import Deployment, DeploymentStatus, Runtime

__all__ = ["LifecycleTables"]


class LifecycleTables(RepoTables):
    def deactivate_deployment(self, workflow_id: str) -> Deployment | None:
        with self._lock:
            self._workflow(workflow_id)
            for deployment_id, (seq, deployment) in list(self._deployments.items()):
                if (
                    deployment.workflow_id == workflow_id
                    and deployment.status == DeploymentStatus.ACTIVE
                ):
                    inactive = attrs.evolve(deployment, status=DeploymentStatus.INACTIVE)
                    self._deployments[deployment_id] = (seq, inactive)
                    self._routes_changed(workflow_id)
                    return inactive
            return None

    def delete_workflow(self, workflow_id: str) -> list[Runtime]:
        with self._lock:
            self._workflow(workflow_id)
            trigger_ids = {
                trigger.id
                for (owner, _), triggers in self._triggers.items()
                if owner == workflow_id
                for trigger in triggers
            }
            for route_key in [k for k in self._triggers if k[0] == workflow_id]:
                del self._triggers[route_key]
            for route_key in [k for k in self._webhooks if k[0] == workflow_id]:
                del self._webhooks[route_key]
            self._cron_ticks = {t for t in self._cron_ticks if t[0] not in trigger_ids}
            for key in [k for k, v in self._executions.items() if v[1].workflow_id == workflow_id]:
                del self._executions[key]
            used = {
                d.runtime_id for _, d in self._deployments.values() if d.workflow_id == workflow_id
            }
            for key in [k for k, v in self._deployments.items() if v[1].workflow_id == workflow_id]:
                del self._deployments[key]
            del self._workflows[workflow_id]
            self._routes_versions.pop(workflow_id, None)
            still_used = {d.runtime_id for _, d in self._deployments.values()}
            freed = [
                self._runtimes.pop(r) for r in sorted(used - still_used) if r in self._runtimes
            ]
            return freed
