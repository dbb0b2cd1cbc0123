"""The in-memory WorkflowRepo: dictionaries behind one lock, with every rule the SQL adapter
enforces through constraints (unique keys, parents that must exist, atomic replacement)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import count
from typing import Any

import attrs

from floww.adapters.memory.secret_box import InMemorySecretBox
from floww.domain.canonical import canonical_json
from floww.domain.errors import Conflict, InvalidInput, NotFound
from floww.domain.model import (
    Deployment,
    DeploymentStatus,
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
from floww.domain.paths import PathTemplate
from floww.ports.support import SecretBox
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["InMemoryWorkflowRepo"]

_SOURCE_ORDER = {source: rank for rank, source in enumerate(TriggerSource)}


@attrs.frozen
class _SealedProvider:
    id: str
    namespace_id: str
    type: str
    alias: str
    sealed_config: bytes


def _webhook_key(webhook: Webhook) -> tuple[str, str]:
    return webhook.method.upper(), PathTemplate.parse(webhook.path).shape


def _specificity(template: PathTemplate) -> tuple[int, ...]:
    """Smaller is more specific: a literal segment beats a parameter, leftmost first."""
    return tuple(1 if seg.startswith("{") else 0 for seg in template.segments)


def _json_copy(value: Any) -> Any:
    try:
        return json.loads(canonical_json(value))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"value is not JSON: {exc}") from exc


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput("timestamps must be timezone-aware")
    return moment.astimezone(UTC)


class InMemoryWorkflowRepo(WorkflowRepo):
    """Besides the port's rules, parents must exist (``NotFound`` for a workflow in an unknown
    namespace, an execution of an unknown workflow, ...), and a final execution status never
    changes (``Conflict``), as the SQL adapter's constraints do. Provider configs are sealed
    with ``secret_box`` (a fresh ``InMemorySecretBox`` by default) and opened on every read."""

    def __init__(self, secret_box: SecretBox | None = None) -> None:
        self._box = secret_box if secret_box is not None else InMemorySecretBox()
        self._lock = threading.RLock()
        self._sequence = count()
        self._namespaces: dict[str, Namespace] = {}
        self._members: dict[tuple[str, str], Member] = {}
        self._workflows: dict[str, Workflow] = {}
        self._providers: dict[tuple[str, str, str], _SealedProvider] = {}
        self._triggers: dict[tuple[str, TriggerSource], tuple[Trigger, ...]] = {}
        self._webhooks: dict[tuple[str, TriggerSource], tuple[Webhook, ...]] = {}
        self._runtimes: dict[str, Runtime] = {}
        self._deployments: dict[str, tuple[int, Deployment]] = {}
        self._executions: dict[str, tuple[int, Execution]] = {}
        self._cron_ticks: set[tuple[str, datetime]] = set()
        self._kv: dict[tuple[str, str], KvItem] = {}

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
            stored = _SealedProvider(provider_id, *key, sealed_config)
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

    def _open(self, stored: _SealedProvider) -> Provider:
        config = json.loads(self._box.open(stored.sealed_config))
        return Provider(stored.id, stored.namespace_id, stored.type, stored.alias, config)

    # triggers and webhooks ----------------------------------------------------------------

    def replace_triggers(
        self,
        workflow_id: str,
        source: TriggerSource,
        triggers: Sequence[Trigger],
        webhooks: Sequence[Webhook],
    ) -> None:
        triggers, webhooks = tuple(triggers), tuple(webhooks)
        trigger_ids = {t.id for t in triggers}
        if len(trigger_ids) != len(triggers):
            raise Conflict("two triggers share an id", workflow_id=workflow_id)
        for trigger in triggers:
            if trigger.workflow_id != workflow_id or trigger.source != source:
                raise InvalidInput(
                    f"trigger {trigger.id} belongs to {trigger.workflow_id}/"
                    f"{trigger.source.value}, not {workflow_id}/{source.value}"
                )
        routes: dict[tuple[str, str], Webhook] = {}
        for webhook in webhooks:
            if webhook.workflow_id != workflow_id or webhook.source != source:
                raise InvalidInput(
                    f"webhook {webhook.id} belongs to {webhook.workflow_id}/"
                    f"{webhook.source.value}, not {workflow_id}/{source.value}"
                )
            if webhook.trigger_id not in trigger_ids:
                raise InvalidInput(
                    f"webhook {webhook.id} fires unknown trigger {webhook.trigger_id}"
                )
            key = _webhook_key(webhook)
            if key in routes:
                raise Conflict(
                    f"webhooks {routes[key].path!r} and {webhook.path!r} both serve "
                    f"{key[0]} {key[1]}",
                    method=key[0],
                    path=webhook.path,
                )
            routes[key] = webhook
        with self._lock:
            self._workflow(workflow_id)
            for (other_wf, other_source), existing in self._triggers.items():
                if (other_wf, other_source) == (workflow_id, source):
                    continue
                clash = trigger_ids & {t.id for t in existing}
                if clash:
                    raise Conflict(f"trigger id {min(clash)} is taken", trigger_id=min(clash))
            self._triggers[(workflow_id, source)] = triggers
            self._webhooks[(workflow_id, source)] = webhooks

    def list_triggers(self, workflow_id: str, source: TriggerSource | None = None) -> list[Trigger]:
        sources = [source] if source is not None else list(TriggerSource)
        with self._lock:
            return [t for s in sources for t in self._triggers.get((workflow_id, s), ())]

    def get_trigger(self, trigger_id: str) -> Trigger:
        with self._lock:
            for triggers in self._triggers.values():
                for trigger in triggers:
                    if trigger.id == trigger_id:
                        return trigger
        raise NotFound("trigger", trigger_id)

    def list_cron_triggers(self) -> list[Trigger]:
        with self._lock:
            return [
                trigger
                for (_, source), triggers in self._triggers.items()
                if source is TriggerSource.DEPLOYMENT
                for trigger in triggers
                if trigger.spec.trigger_type == "cron"
            ]

    def list_webhooks(self, workflow_id: str) -> list[Webhook]:
        with self._lock:
            return [w for s in TriggerSource for w in self._webhooks.get((workflow_id, s), ())]

    def find_webhooks(self, workflow_id: str, method: str, path: str) -> list[Webhook]:
        method = method.upper()
        found: list[Webhook] = []
        with self._lock:
            for source in TriggerSource:
                best: tuple[tuple[int, ...], Webhook] | None = None
                for webhook in self._webhooks.get((workflow_id, source), ()):
                    if webhook.method.upper() != method:
                        continue
                    template = PathTemplate.parse(webhook.path)
                    if template.match(path) is None:
                        continue
                    rank = _specificity(template)
                    if best is None or rank < best[0]:
                        best = (rank, webhook)
                if best is not None:
                    found.append(best[1])
        return found

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

    def create_execution(self, execution: Execution) -> None:
        with self._lock:
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

    def find_execution_by_dedupe_key(self, workflow_id: str, dedupe_key: str) -> Execution | None:
        with self._lock:
            return self._by_dedupe_key(workflow_id, dedupe_key)

    def update_execution(self, execution: Execution) -> None:
        with self._lock:
            if execution.id not in self._executions:
                raise NotFound("execution", execution.id)
            seq, stored = self._executions[execution.id]
            if stored.workflow_id != execution.workflow_id:
                raise InvalidInput(f"execution {execution.id} cannot move to another workflow")
            if stored.status.is_final and execution.status != stored.status:
                raise Conflict(
                    f"execution {execution.id} is {stored.status.value} already",
                    execution_id=execution.id,
                )
            if execution.dedupe_key != stored.dedupe_key and execution.dedupe_key is not None:
                twin = self._by_dedupe_key(execution.workflow_id, execution.dedupe_key)
                if twin is not None and twin.id != execution.id:
                    raise Conflict(
                        f"execution {twin.id} already has dedupe key {execution.dedupe_key!r}",
                        execution_id=twin.id,
                    )
            self._executions[execution.id] = (seq, execution)

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
    ) -> list[Execution]:
        if limit < 0:
            raise InvalidInput("limit must not be negative")
        with self._lock:
            found = [
                (seq, ex)
                for seq, ex in self._executions.values()
                if ex.workflow_id == workflow_id
                and (status is None or ex.status == status)
                and (before is None or ex.received_at < before)
            ]
        found.sort(key=lambda entry: (entry[1].received_at, entry[0]), reverse=True)
        return [ex for _, ex in found[:limit]]

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
        return attrs.evolve(item, value=_json_copy(item.value))

    def kv_put(self, namespace_id: str, key: str, value: Any, at: datetime) -> KvItem:
        if not key:
            raise InvalidInput("a KV key must not be empty")
        item = KvItem(namespace_id, key, _json_copy(value), _utc(at))
        with self._lock:
            self._namespace(namespace_id)
            self._kv[(namespace_id, key)] = item
        return attrs.evolve(item, value=_json_copy(item.value))

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
            attrs.evolve(i, value=_json_copy(i.value)) for i in sorted(found, key=lambda i: i.key)
        ]

    # lookups under the lock ---------------------------------------------------------------

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
