"""WorkflowRepo: durable state of namespaces, workflows, providers, triggers, deployments,
executions and KV items.

Semantics every adapter honours (checked by ``tests/contracts/test_workflow_repo.py``):
- ``get_*`` raise ``NotFound`` for a missing id; ``find_*`` return ``None``.
- ``create_*`` raise ``Conflict`` when a unique key is taken (workflow name per namespace,
  execution dedupe key per workflow, runtime spec hash per namespace).
- Provider configs are stored encrypted; what comes back equals what went in.
- ``replace_triggers`` and ``activate_deployment`` are atomic: a reader sees the old set or the
  new set, never a mix.
- Backend outages raise ``Unavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from floww.domain.model import (
    Deployment,
    Execution,
    ExecutionStatus,
    KvItem,
    Member,
    Namespace,
    Provider,
    ProviderRef,
    Runtime,
    Trigger,
    TriggerSource,
    Webhook,
    Workflow,
)

__all__ = ["WorkflowRepo"]


class WorkflowRepo(Protocol):
    # namespaces and members
    def create_namespace(self, namespace: Namespace) -> None:
        """Store a namespace; ``Conflict`` if its id or name is taken."""

    def get_namespace(self, namespace_id: str) -> Namespace: ...

    def add_member(self, member: Member) -> None:
        """Add a member, or set the role of one already there (idempotent): the one call that
        grants a role, whoever decides it (an owner, an identity provider's memberships).
        ``NotFound`` for an unknown namespace."""

    def get_member(self, namespace_id: str, user_id: str) -> Member | None: ...

    def list_members(self, namespace_id: str) -> list[Member]:
        """The namespace's members, by user id; empty for an unknown namespace."""

    def remove_member(self, namespace_id: str, user_id: str) -> None:
        """Take a user's access away at once; ``NotFound`` when they are not a member."""

    def list_namespaces(self, user_id: str) -> list[Namespace]:
        """Namespaces the user is a member of, by name."""

    # workflows
    def create_workflow(self, workflow: Workflow) -> None:
        """``Conflict`` if the namespace already has a workflow of that name."""

    def get_workflow(self, workflow_id: str) -> Workflow: ...

    def find_workflow(self, namespace_id: str, name: str) -> Workflow | None: ...

    def list_workflows(self, namespace_id: str) -> list[Workflow]: ...

    # providers
    def put_provider(self, provider: Provider) -> Provider:
        """Create or replace the provider (namespace, type, alias); returns what is stored
        (an existing provider keeps its id)."""

    def find_provider(self, namespace_id: str, ref: ProviderRef) -> Provider | None: ...

    def list_providers(self, namespace_id: str) -> list[Provider]: ...

    def delete_provider(self, namespace_id: str, ref: ProviderRef) -> None:
        """``NotFound`` when there is no such provider."""

    # triggers and webhooks
    def replace_triggers(
        self,
        workflow_id: str,
        source: TriggerSource,
        triggers: Sequence[Trigger],
        webhooks: Sequence[Webhook],
    ) -> None:
        """Atomically make ``triggers`` and ``webhooks`` the whole set of ``source`` for the
        workflow. ``Conflict`` if two webhooks share (method, path)."""

    def list_triggers(
        self, workflow_id: str, source: TriggerSource | None = None
    ) -> list[Trigger]: ...

    def get_trigger(self, trigger_id: str) -> Trigger: ...

    def list_cron_triggers(self) -> list[Trigger]:
        """Every deployment cron trigger of every workflow (for the scheduler)."""

    def list_webhooks(self, workflow_id: str) -> list[Webhook]: ...

    def find_webhooks(self, workflow_id: str, method: str, path: str) -> list[Webhook]:
        """Webhooks of the workflow whose method and path template match the request, at most
        one per source; static paths win over templated ones."""

    def routes_version(self, workflow_id: str) -> int | None:
        """A number that changes with every change of the workflow's triggers, webhooks or
        active deployment (committed with it); ``None`` when there is no such workflow. Two
        reads giving one number saw the same routes."""

    # runtimes
    def save_runtime(self, runtime: Runtime) -> None:
        """Create or update by id; ``Conflict`` if another runtime of the namespace has the
        same spec hash."""

    def get_runtime(self, runtime_id: str) -> Runtime: ...

    def find_runtime(self, namespace_id: str, spec_hash: str) -> Runtime | None: ...

    # deployments
    def activate_deployment(self, deployment: Deployment) -> Deployment | None:
        """Store ``deployment`` as the workflow's active one and mark the previous active
        deployment inactive, atomically; returns the previous one."""

    def get_deployment(self, deployment_id: str) -> Deployment: ...

    def find_active_deployment(self, workflow_id: str) -> Deployment | None: ...

    def list_deployments(self, workflow_id: str) -> list[Deployment]:
        """Newest first."""

    def deactivate_deployment(self, workflow_id: str) -> Deployment | None:
        """Mark the workflow's active deployment inactive; returns it as it now is, or None
        when none was active. ``NotFound`` for an unknown workflow."""

    # workflows, whole
    def delete_workflow(self, workflow_id: str) -> list[Runtime]:
        """Delete the workflow with its triggers, webhooks, deployments, executions and the
        cron ticks its triggers claimed, atomically; also delete the runtimes its deployments
        ran on that no deployment of another workflow uses, and return those (so the caller
        can free them on the function host). ``NotFound`` for an unknown workflow."""

    # executions
    def create_execution(self, execution: Execution, *, routes_version: int | None = None) -> bool:
        """Durably store a new execution; ``Conflict`` when the workflow already has one with
        the same non-null dedupe key. With ``routes_version``, only while the workflow's
        ``routes_version`` is still that number, checked in the same statement: ``False``
        (nothing stored, no error) when it moved or the workflow is gone, so a caller that
        routed the execution with a table of that version routes it again. ``True`` when
        stored."""

    def find_execution_by_dedupe_key(
        self, workflow_id: str, dedupe_key: str
    ) -> Execution | None: ...

    def update_execution(self, execution: Execution) -> None:
        """Replace the stored execution with this version (logs included). The event stays
        the one it was created with, and the lease changes only through the lease methods."""

    def get_execution(self, execution_id: str) -> Execution: ...

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
        """Newest first; ``before`` pages by ``received_at`` (exclusive), ``since`` keeps those
        received at or after it; ``trigger_id`` keeps one trigger's."""

    def list_namespace_executions(
        self,
        namespace_id: str,
        *,
        status: ExecutionStatus | None = None,
        limit: int = 50,
        before: datetime | None = None,
        since: datetime | None = None,
    ) -> list[Execution]:
        """The executions of every workflow of the namespace, filtered and ordered as
        ``list_executions``."""

    def renew_leases(self, owner: str, until: datetime) -> int:
        """Extend to ``until`` the lease of every unfinished execution ``owner`` holds; how
        many were renewed. One statement, whatever their number."""

    def list_lapsed_executions(self, now: datetime, limit: int = 100) -> list[Execution]:
        """Unfinished executions (RECEIVED, QUEUED, STARTED) of any workflow whose lease
        lapsed before ``now`` (or that never had one), oldest first: their owner is gone."""

    def take_over_execution(
        self, execution_id: str, now: datetime, owner: str, until: datetime
    ) -> Execution | None:
        """Make ``owner`` the holder of the execution's lease until ``until``, but only if it
        is unfinished and its lease lapsed before ``now``: exactly one of several recovering
        processes gets it. The execution as taken over, or ``None``."""

    def hand_over_lease(
        self, execution_id: str, owner: str, new_owner: str, until: datetime
    ) -> bool:
        """Give the lease of the execution ``owner`` holds to ``new_owner`` until ``until``,
        but only while it is unfinished and still held by ``owner``; whether it did. A
        holder nobody renews for (a function host running it detached) lets the lease lapse
        at ``until``, and the recovery sweep ends the execution then."""

    def prune_executions(
        self, *, received_before: datetime, keep_per_workflow: int, limit: int = 500
    ) -> int:
        """Delete, with their logs, up to ``limit`` finished executions (of any workflow) that
        were received before ``received_before`` or are not among the ``keep_per_workflow``
        newest executions of their workflow, oldest first; returns how many went. Unfinished
        executions are never deleted. ``InvalidInput`` for a negative number or naive time."""

    # cron
    def claim_cron_tick(self, trigger_id: str, scheduled_at: datetime) -> bool:
        """True for exactly one caller per (trigger, scheduled time), across processes."""

    # key-value
    def kv_get(self, namespace_id: str, key: str) -> KvItem: ...

    def kv_put(self, namespace_id: str, key: str, value: Any, at: datetime) -> KvItem: ...

    def kv_delete(self, namespace_id: str, key: str) -> None:
        """``NotFound`` when absent."""

    def kv_list(self, namespace_id: str, prefix: str = "") -> list[KvItem]: ...
