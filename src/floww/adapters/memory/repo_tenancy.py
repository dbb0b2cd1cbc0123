"""Namespaces, members, workflows and providers of ``InMemoryWorkflowRepo``."""

from __future__ import annotations

import json

from floww.adapters.memory.repo_tables import RepoTables, SealedProvider
from floww.domain.canonical import canonical_json
from floww.domain.errors import Conflict, NotFound
from floww.domain.model import Member, Namespace, Provider, ProviderRef, Workflow

__all__ = ["TenancyTables"]


class TenancyTables(RepoTables):
    """Who owns what: a namespace's members, workflows and (sealed) providers."""

    # namespaces and members -------------------------------------------------------------

    def create_namespace(self, namespace: Namespace) -> None:
        with self._lock:
            if namespace.id in self._namespaces:
                raise Conflict(f"namespace id {namespace.id} is taken", namespace_id=namespace.id)
            if any(ns.name == namespace.name for ns in self._namespaces.values()):
                raise Conflict(f"namespace name {namespace.name!r} is taken", name=namespace.name)
            self._namespaces[namespace.id] = namespace

    def get_namespace(self, namespace_id: str) -> Namespace:
        with self._lock:
            return self._namespace(namespace_id)

    def add_member(self, member: Member) -> None:
        with self._lock:
            self._namespace(member.namespace_id)
            self._members[(member.namespace_id, member.user_id)] = member

    def get_member(self, namespace_id: str, user_id: str) -> Member | None:
        with self._lock:
            return self._members.get((namespace_id, user_id))

    def list_members(self, namespace_id: str) -> list[Member]:
        with self._lock:
            found = [m for (ns, _), m in self._members.items() if ns == namespace_id]
        return sorted(found, key=lambda member: member.user_id)

    def remove_member(self, namespace_id: str, user_id: str) -> None:
        with self._lock:
            if self._members.pop((namespace_id, user_id), None) is None:
                raise NotFound("member", user_id)

    def list_namespaces(self, user_id: str) -> list[Namespace]:
        with self._lock:
            found = [self._namespaces[ns] for (ns, uid) in self._members if uid == user_id]
        return sorted(found, key=lambda ns: (ns.name, ns.id))

    # workflows ----------------------------------------------------------------------------

    def create_workflow(self, workflow: Workflow) -> None:
        with self._lock:
            self._namespace(workflow.namespace_id)
            if workflow.id in self._workflows:
                raise Conflict(f"workflow id {workflow.id} is taken", workflow_id=workflow.id)
            if self._find_workflow(workflow.namespace_id, workflow.name) is not None:
                raise Conflict(
                    f"namespace already has a workflow named {workflow.name!r}",
                    namespace_id=workflow.namespace_id,
                    name=workflow.name,
                )
            self._workflows[workflow.id] = workflow

    def get_workflow(self, workflow_id: str) -> Workflow:
        with self._lock:
            return self._workflow(workflow_id)

    def find_workflow(self, namespace_id: str, name: str) -> Workflow | None:
        with self._lock:
            return self._find_workflow(namespace_id, name)

    def list_workflows(self, namespace_id: str) -> list[Workflow]:
        with self._lock:
            found = [wf for wf in self._workflows.values() if wf.namespace_id == namespace_id]
        return sorted(found, key=lambda wf: (wf.name, wf.id))

    # providers ----------------------------------------------------------------------------

    def put_provider(self, provider: Provider) -> Provider:
        key = (provider.namespace_id, provider.type, provider.alias)
        sealed_config = self._box.seal(canonical_json(dict(provider.config)).encode())
        with self._lock:
            self._namespace(provider.namespace_id)
            existing = self._providers.get(key)
            if existing is None and any(p.id == provider.id for p in self._providers.values()):
                raise Conflict(f"provider id {provider.id} is taken", provider_id=provider.id)
            provider_id = existing.id if existing is not None else provider.id
            stored = SealedProvider(provider_id, *key, sealed_config)
            self._providers[key] = stored
        return self._open(stored)

    def find_provider(self, namespace_id: str, ref: ProviderRef) -> Provider | None:
        with self._lock:
            stored = self._providers.get((namespace_id, ref.type, ref.alias))
        return self._open(stored) if stored is not None else None

    def list_providers(self, namespace_id: str) -> list[Provider]:
        with self._lock:
            found = [p for (ns, _, _), p in self._providers.items() if ns == namespace_id]
        return [self._open(p) for p in sorted(found, key=lambda p: (p.type, p.alias))]

    def delete_provider(self, namespace_id: str, ref: ProviderRef) -> None:
        with self._lock:
            if self._providers.pop((namespace_id, ref.type, ref.alias), None) is None:
                raise NotFound("provider", f"{namespace_id}/{ref.key}")

    def _open(self, stored: SealedProvider) -> Provider:
        config = json.loads(self._box.open(stored.sealed_config))
        return Provider(stored.id, stored.namespace_id, stored.type, stored.alias, config)
