"""InProcessPlatform: the client's view of a floww server, served by calling the server's use
cases in this process. Used by tests and by embedding floww as a library; the HTTP API adapter
offers the same port over the network.

Every method calls the use case the server's route (or realtime edge) calls, with no check of
its own, so both answer alike: the same access checks, token kinds and errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from floww.domain.errors import PermissionDenied
from floww.domain.model import (
    CodeBundle,
    DeploymentStatus,
    InvocationResult,
    Principal,
    Provider,
    ProviderField,
    ProviderRef,
    Runtime,
    RuntimeTarget,
    TriggerSpec,
    Workflow,
)
from floww.domain.triggers import TriggerDiff
from floww.domain.usecases import (
    deployments,
    dev_sessions,
    providers,
    queries,
    replies,
    triggers,
    workflows,
)
from floww.domain.usecases.access import may_subscribe
from floww.domain.usecases.deps import ServerDeps
from floww.ports.platform import DeploymentReceipt, Platform
from floww.ports.realtime import Subscription, workflow_channel

__all__ = ["InProcessPlatform"]


class InProcessPlatform(Platform):
    def __init__(
        self,
        deps: ServerDeps,
        principal: Principal,
        *,
        target: RuntimeTarget,
        provider_fields: Callable[[str], tuple[ProviderField, ...]],
    ) -> None:
        self._deps = deps
        self._principal = principal
        self._target = target
        self._fields = provider_fields

    def runtime_target(self) -> RuntimeTarget:
        return self._target

    def get_workflow(self, workflow_id: str) -> Workflow:
        return queries.get_workflow(self._deps, self._principal, workflow_id)

    def has_active_deployment(self, workflow_id: str) -> bool:
        deployments = queries.list_deployments(self._deps, self._principal, workflow_id)
        return any(d.status == DeploymentStatus.ACTIVE for d in deployments)

    def find_workflow(self, namespace_id: str, name: str) -> Workflow | None:
        return queries.find_workflow(self._deps, self._principal, namespace_id, name)

    def create_workflow(self, namespace_id: str, name: str) -> Workflow:
        return workflows.create_workflow(self._deps, self._principal, namespace_id, name)

    def provider_fields(self, provider_type: str) -> tuple[ProviderField, ...]:
        return self._fields(provider_type)

    def provider_configs(self, namespace_id: str) -> dict[str, dict[str, str]]:
        return queries.provider_configs(self._deps, self._principal, namespace_id)

    def setup_provider(
        self, namespace_id: str, ref: ProviderRef, config: dict[str, str]
    ) -> Provider:
        return providers.setup_provider(
            self._deps,
            self._principal,
            namespace_id=namespace_id,
            ref=ref,
            fields=self._fields(ref.type),
            config=config,
        )

    def sync_dev_triggers(
        self, workflow_id: str, triggers_: Sequence[TriggerSpec], *, session_id: str = "default"
    ) -> tuple[str, ...]:
        return dev_sessions.open_dev_session(
            self._deps, self._principal, workflow_id, triggers_, session_id
        )

    def clear_dev_triggers(self, workflow_id: str, *, session_id: str = "default") -> None:
        dev_sessions.close_dev_session(self._deps, self._principal, workflow_id, session_id)

    def renew_dev_session(self, workflow_id: str, session_id: str) -> None:
        dev_sessions.renew_dev_session(self._deps, self._principal, workflow_id, session_id)

    def dev_token(self, workflow_id: str) -> str:
        return triggers.issue_dev_token(self._deps, self._principal, workflow_id)

    def subscribe(self, workflow_id: str) -> Subscription:
        channel = workflow_channel(workflow_id)
        if not may_subscribe(self._deps.repo, self._principal, channel):
            raise PermissionDenied(f"not allowed to listen on {channel}")
        return self._deps.realtime.subscribe(channel)

    def reply(self, workflow_id: str, reply_to: str, token: str, result: InvocationResult) -> None:
        replies.reply_to_event(
            self._deps, self._principal, execution_id=reply_to, token=token, result=result
        )

    def find_runtime(self, namespace_id: str, spec_hash: str) -> Runtime | None:
        return queries.find_runtime(self._deps, self._principal, namespace_id, spec_hash)

    def create_runtime(self, namespace_id: str, spec_hash: str, image_ref: str) -> Runtime:
        return deployments.create_runtime(
            self._deps,
            self._principal,
            namespace_id=namespace_id,
            spec_hash=spec_hash,
            image_ref=image_ref,
        )

    def plan_deployment(self, workflow_id: str, triggers_: Sequence[TriggerSpec]) -> TriggerDiff:
        return deployments.plan_deployment(self._deps, self._principal, workflow_id, triggers_)

    def create_deployment(
        self,
        workflow_id: str,
        *,
        runtime_id: str,
        code: CodeBundle,
        triggers: Sequence[TriggerSpec],
        provider_mapping: dict[str, str],
    ) -> DeploymentReceipt:
        request = deployments.DeploymentRequest(
            workflow_id=workflow_id,
            runtime_id=runtime_id,
            code=code,
            provider_mapping=provider_mapping,
            declared_triggers=tuple(triggers),
        )
        return deployments.create_deployment(self._deps, self._principal, request)
