"""Execution retention of ``InMemoryWorkflowRepo``: the oldest finished executions past an
age or past a count per workflow are deleted in bounded batches."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from floww.adapters.memory.repo_tables import RepoTables
from floww.domain.usecases.retention import check_prune_request

__all__ = ["RetentionTables"]


class RetentionTables(RepoTables):
    def prune_executions(
        self, *, received_before: datetime, keep_per_workflow: int, limit: int = 500
    ) -> int:
        check_prune_request(received_before, keep_per_workflow, limit)
        with self._lock:
            by_workflow: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
            for seq, execution in self._executions.values():
                by_workflow[execution.workflow_id].append(
                    (execution.received_at, seq, execution.id)
                )
            doomed: list[tuple[datetime, int, str]] = []
            for entries in by_workflow.values():
                entries.sort(reverse=True)
                for rank, (received_at, seq, execution_id) in enumerate(entries):
                    if not self._executions[execution_id][1].status.is_final:
                        continue
                    if received_at < received_before or rank >= keep_per_workflow:
                        doomed.append((received_at, seq, execution_id))
            doomed.sort()
            for _, _, execution_id in doomed[:limit]:
                del self._executions[execution_id]
            return min(limit, len(doomed))
