"""Platform: what the client (``floww dev``, ``floww deploy``) asks of a floww server.

The in-process adapter calls the server's use cases directly; the API adapter calls the HTTP
API. Both raise the domain errors: ``NotFound``, ``PermissionDenied``, ``InvalidInput``,
``UserCodeError`` (the server could not load the code), ``ProviderNotConfigured``,
``Unavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import attrs

from floww.domain.model import (
    CodeBundle,
    Deployment,
    InvocationResult,
    Provider,
    ProviderField,
    ProviderRef,
    Runtime,
    RuntimeTarget,
    TriggerSpec,
    Workflow,
)
from floww.domain.provider_hooks import HookOutcome
from floww.domain.triggers import TriggerDiff, WebhookEndpoint
from floww.ports.image_registry import RegistryCredentials
from floww.ports.realtime import Subscription

__all__ = ["DeploymentReceipt", "Platform", "ServerApi", "TriggerDiff"]


@attrs.frozen
class DeploymentReceipt:
    """``webhook_urls`` has one ``METHOD URL`` line per URL; ``webhooks`` says which triggers
    each serves; ``provider_hooks`` what registering webhooks with providers did."""

    deployment: Deployment
    webhook_urls: tuple[str, ...]
    diff: TriggerDiff
    webhooks: tuple[WebhookEndpoint, ...] = ()
    provider_hooks: tuple[HookOutcome, ...] = ()


class Platform(Protocol):
    def runtime_target(self) -> RuntimeTarget:
        """The target the server's function host runs (``/api/config``)."""

    def get_workflow(self, workflow_id: str) -> Workflow: ...

    def has_active_deployment(self, workflow_id: str) -> bool:
        """Whether a deployment of the workflow is active (it then runs the workflow's cron and
        answers its events; ``floww dev`` only shows them)."""
        ...

    def find_workflow(self, namespace_id: str, name: str) -> Workflow | None: ...

    def create_workflow(self, namespace_id: str, name: str) -> Workflow: ...

    def provider_fields(self, provider_type: str) -> tuple[ProviderField, ...]:
        """The setup fields of a provider type; ``NotFound`` for an unknown type."""

    def provider_configs(self, namespace_id: str) -> dict[str, dict[str, str]]:
        """Every provider's full config keyed ``type:alias``, for running code in dev."""

    def setup_provider(
        self, namespace_id: str, ref: ProviderRef, config: dict[str, str]
    ) -> Provider: ...

    def sync_dev_triggers(
        self, workflow_id: str, triggers: Sequence[TriggerSpec], *, session_id: str = "default"
    ) -> tuple[str, ...]:
        """Register dev session ``session_id`` with the triggers its code declares (and a fresh
        lease); returns their webhook URLs. The most recently connected live session answers
        the workflow's dev events."""

    def clear_dev_triggers(self, workflow_id: str, *, session_id: str = "default") -> None:
        """End the dev session; the workflow's other sessions keep their triggers."""

    def renew_dev_session(self, workflow_id: str, session_id: str) -> None:
        """Extend the session's lease; ``NotFound`` once it was dropped (register again)."""

    def dev_token(self, workflow_id: str) -> str:
        """A workflow-scoped token for code the dev session runs locally (its KV calls)."""

    def subscribe(self, workflow_id: str) -> Subscription:
        """Live dev events of the workflow (``workflow:<id>``)."""

    def reply(self, workflow_id: str, reply_to: str, token: str, result: InvocationResult) -> None:
        """Answer a dev event; ``NotFound`` when nobody waits for it any more."""

    def find_runtime(self, namespace_id: str, spec_hash: str) -> Runtime | None: ...

    def create_runtime(self, namespace_id: str, spec_hash: str, image_ref: str) -> Runtime: ...

    def plan_deployment(self, workflow_id: str, triggers: Sequence[TriggerSpec]) -> TriggerDiff: ...

    def create_deployment(
        self,
        workflow_id: str,
        *,
        runtime_id: str,
        code: CodeBundle,
        triggers: Sequence[TriggerSpec],
        provider_mapping: dict[str, str],
    ) -> DeploymentReceipt: ...


class ServerApi(Platform, Protocol):
    """A floww server as the CLI's other commands see it, beyond what ``dev`` and ``deploy``
    need: listings and single records as JSON documents of the HTTP API (``docs/cli.md``
    shows their fields), manual runs, provider removal and registry push credentials."""

    def config(self) -> dict[str, Any]:
        """The server's ``/api/config``."""
        ...

    def remove_provider(self, namespace_id: str, ref: ProviderRef) -> None: ...

    def registry_credentials(self, namespace_id: str, repository: str) -> RegistryCredentials:
        """Short-lived push credentials for one repository of the namespace."""
        ...

    def whoami(self) -> dict[str, Any]: ...

    def list_namespaces(self) -> list[dict[str, Any]]: ...

    def list_workflows(self, namespace_id: str) -> list[dict[str, Any]]: ...

    def list_deployments(self, workflow_id: str) -> list[dict[str, Any]]: ...

    def activate_deployment(
        self, workflow_id: str, deployment_id: str | None = None
    ) -> dict[str, Any]:
        """Make a stored deployment active again (``None``: the one before the active one);
        returns the receipt document (``deployment``, ``webhook_urls``, ``diff``)."""
        ...

    def deactivate_deployment(self, workflow_id: str) -> dict[str, Any] | None:
        """Back to dev-only; returns the deployment that was active, if any."""
        ...

    def delete_workflow(self, workflow_id: str) -> None: ...

    def list_executions(
        self,
        workflow_id: str,
        *,
        status: str | None = None,
        limit: int = 20,
        since: str | None = None,
        trigger_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; ``since`` is an ISO-8601 time with its offset."""

    def list_namespace_executions(
        self,
        namespace_id: str,
        *,
        status: str | None = None,
        limit: int = 20,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        """The executions of every workflow of the namespace, newest first."""

    def get_execution(self, execution_id: str) -> dict[str, Any]: ...

    def invoke_manual(self, workflow_id: str, name: str, payload: Any) -> dict[str, Any]: ...

    def list_providers(self, namespace_id: str) -> list[dict[str, Any]]: ...

    def list_provider_types(self) -> list[dict[str, Any]]: ...
