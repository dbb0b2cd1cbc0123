"""What ingress needs of a workflow, held in memory between changes: its webhooks compiled
(``floww.domain.routing_table``), its triggers, the workflow and its active deployment.

A table is tagged with the workflow's ``routes_version`` (``WorkflowRepo.routes_version``),
which the repository raises in the transaction of every change of triggers, webhooks or the
active deployment (deploy, rollback, deactivate; a deleted workflow has none). Every lookup
reads the version first and rebuilds the table when it moved, so a change made by any server
process on the same database is seen by the next request, and no request is answered from a
table older than the last committed change it could have observed."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import attrs

from floww.domain.errors import NotFound
from floww.domain.model import Deployment, Runtime, RuntimeStatus, Trigger, Workflow
from floww.domain.routing_table import WebhookIndex
from floww.ports.loop_bridge import off_loop
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["RoutingTable", "RoutingTables"]


@attrs.frozen
class RoutingTable:
    """One workflow's routes as of ``version``: read in full between two equal reads of it."""

    version: int
    workflow: Workflow
    webhooks: WebhookIndex
    triggers: Mapping[str, Trigger]
    active: Deployment | None
    runtime: Runtime | None = None
    """The active deployment's runtime when READY (a ready runtime is never changed)."""


def _ready_runtime(repo: WorkflowRepo, active: Deployment | None) -> Runtime | None:
    if active is None:
        return None
    try:
        runtime = repo.get_runtime(active.runtime_id)
    except NotFound:
        return None
    return runtime if runtime.status == RuntimeStatus.READY else None


class RoutingTables:
    """The routing tables of this process, at most ``limit`` workflows (the oldest built is
    dropped first). Safe to share between threads."""

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._tables: dict[tuple[int, str], RoutingTable] = {}
        self._building = threading.Lock()

    def table(self, repo: WorkflowRepo, workflow_id: str) -> RoutingTable | None:
        """The current table of ``workflow_id``; ``None`` when there is no such workflow.
        Costs one read of the version when nothing changed. Called from the event loop
        (``run_on_loop``), all of it runs on a thread: its reads, and a build that holds the
        lock other callers wait for."""
        return off_loop(self._table, repo, workflow_id)

    def _table(self, repo: WorkflowRepo, workflow_id: str) -> RoutingTable | None:
        key = (id(repo), workflow_id)  # a test may hand one cache several repositories
        version = repo.routes_version(workflow_id)
        if version is None:
            self._tables.pop(key, None)
            return None
        cached = self._tables.get(key)
        if cached is not None and cached.version == version:
            return cached
        with self._building:  # one build at a time: a burst after a deploy builds it once
            cached = self._tables.get(key)
            if cached is not None and cached.version == version:
                return cached
            return self._build(repo, key, version)

    def cached(self, repo: WorkflowRepo, workflow_id: str) -> RoutingTable | None:
        """The table of ``workflow_id`` as this process last built it, without reading its
        version: it may be out of date (for a guess that ``table`` then checks)."""
        return self._tables.get((id(repo), workflow_id))

    def _build(self, repo: WorkflowRepo, key: tuple[int, str], version: int) -> RoutingTable | None:
        workflow_id = key[1]
        for _ in range(5):
            try:
                workflow = repo.get_workflow(workflow_id)
            except NotFound:  # deleted meanwhile
                self._tables.pop(key, None)
                return None
            active = repo.find_active_deployment(workflow_id)
            built = RoutingTable(
                version=version,
                workflow=workflow,
                webhooks=WebhookIndex(repo.list_webhooks(workflow_id)),
                triggers={t.id: t for t in repo.list_triggers(workflow_id)},
                active=active,
                runtime=_ready_runtime(repo, active),
            )
            after = repo.routes_version(workflow_id)
            if after is None:
                self._tables.pop(key, None)
                return None
            if after == version:
                self._store(key, built)
                return built
            version = after  # changed while reading: read again
        return built  # changing faster than it can be read: answer, but do not keep it

    def _store(self, key: tuple[int, str], table: RoutingTable) -> None:
        self._tables.pop(key, None)
        while len(self._tables) >= self._limit:
            self._tables.pop(next(iter(self._tables)))
        self._tables[key] = table
