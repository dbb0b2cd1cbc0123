"""The in-memory WorkflowRepo: dictionaries behind one lock, with every rule the SQL adapter
enforces through constraints (unique keys, parents that must exist, atomic replacement)."""

from __future__ import annotations

from floww.adapters.memory.repo_lifecycle import LifecycleTables
from floww.adapters.memory.repo_records import RecordTables
from floww.adapters.memory.repo_retention import RetentionTables
from floww.adapters.memory.repo_routes import RouteTables
from floww.adapters.memory.repo_tenancy import TenancyTables
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["InMemoryWorkflowRepo"]


class InMemoryWorkflowRepo(
    TenancyTables, RouteTables, RecordTables, RetentionTables, LifecycleTables, WorkflowRepo
):
    """Besides the port's rules, parents must exist (``NotFound`` for a workflow in an unknown
    namespace, an execution of an unknown workflow, ...), and a final execution status never
    changes (``Conflict``), as the SQL adapter's constraints do. Provider configs are sealed
    with ``secret_box`` (a fresh ``InMemorySecretBox`` by default) and opened on every read."""
