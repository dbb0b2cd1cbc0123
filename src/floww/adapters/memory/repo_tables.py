"""The state behind ``InMemoryWorkflowRepo``: its tables behind one lock, and the lookups made
under that lock that every part of the repository needs (a namespace or workflow that must
exist)."""

from __future__ import annotations

import threading
from datetime import datetime
from itertools import count

import attrs

from floww.adapters.memory.secret_box import InMemorySecretBox
from floww.domain.errors import NotFound
from floww.domain.model import (
    Deployment,
    Execution,
    KvItem,
    Member,
    Namespace,
    Runtime,
    Trigger,
    TriggerSource,
    Webhook,
    Workflow,
)
from floww.ports.support import SecretBox

__all__ = ["RepoTables", "SealedProvider"]


@attrs.frozen
class SealedProvider:
    id: str
    namespace_id: str
    type: str
    alias: str
    sealed_config: bytes


class RepoTables:
    """The dictionaries of one in-memory repository; ``_lock`` guards all of them. Provider
    configs are sealed with ``secret_box`` (a fresh ``InMemorySecretBox`` by default)."""

    def __init__(self, secret_box: SecretBox | None = None) -> None:
        self._box = secret_box if secret_box is not None else InMemorySecretBox()
        self._lock = threading.RLock()
        self._sequence = count()
        self._namespaces: dict[str, Namespace] = {}
        self._members: dict[tuple[str, str], Member] = {}
        self._workflows: dict[str, Workflow] = {}
        self._providers: dict[tuple[str, str, str], SealedProvider] = {}
        self._triggers: dict[tuple[str, TriggerSource], tuple[Trigger, ...]] = {}
        self._webhooks: dict[tuple[str, TriggerSource], tuple[Webhook, ...]] = {}
        self._runtimes: dict[str, Runtime] = {}
        self._deployments: dict[str, tuple[int, Deployment]] = {}
        self._executions: dict[str, tuple[int, Execution]] = {}
        self._cron_ticks: set[tuple[str, datetime]] = set()
        self._kv: dict[tuple[str, str], KvItem] = {}
        # routes_version per workflow (0 until its first change): 1 + a fresh ``_sequence``
        self._routes_versions: dict[str, int] = {}

    # lookups under the lock ---------------------------------------------------------------

    def _routes_changed(self, workflow_id: str) -> None:
        """Give the workflow's routes a new version (under the lock, with the change)."""
        self._routes_versions[workflow_id] = 1 + next(self._sequence)

    def _namespace(self, namespace_id: str) -> Namespace:
        if namespace_id not in self._namespaces:
            raise NotFound("namespace", namespace_id)
        return self._namespaces[namespace_id]

    def _workflow(self, workflow_id: str) -> Workflow:
        if workflow_id not in self._workflows:
            raise NotFound("workflow", workflow_id)
        return self._workflows[workflow_id]

    def _find_workflow(self, namespace_id: str, name: str) -> Workflow | None:
        for workflow in self._workflows.values():
            if workflow.namespace_id == namespace_id and workflow.name == name:
                return workflow
        return None
