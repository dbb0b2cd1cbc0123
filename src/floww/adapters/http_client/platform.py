"""HttpPlatform: the ``Platform`` port over a floww server's HTTP API, for the CLI.

Errors are those of ``ApiClient`` (the server's error JSON mapped back to the domain tree).
``subscribe`` connects to the realtime URL the server advertises in ``/api/config``
(``realtime_url``, or ``realtime.url``) with the same bearer token. When the server offers the
dev reply RPC (``realtime_rpc``), ``reply`` sends the answer over that connection; over
``POST /api/dev/replies/<id>`` when it does not, or when the RPC did not leave
(``RpcNotSent``: the connection is down, or the realtime service answers that it has no RPC).
Besides the port, it offers the listings the CLI shows (plain API JSON), and short-lived
registry push credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from floww.adapters.http_client.client import ApiClient
from floww.adapters.http_client.realtime_rpc import RpcCaller, RpcNotSent
from floww.codec import endpoints_from_json, hook_outcomes_from_json, structure
from floww.domain.errors import NotFound, Unavailable
from floww.domain.model import (
    CodeBundle,
    Deployment,
    DeploymentStatus,
    InvocationResult,
    Provider,
    ProviderField,
    ProviderRef,
    Runtime,
    RuntimeTarget,
    TriggerSpec,
    Workflow,
)
from floww.domain.triggers import TriggerDiff
from floww.ports.image_registry import RegistryCredentials
from floww.ports.platform import DeploymentReceipt, ServerApi
from floww.ports.realtime import DEV_REPLY_RPC, Subscription, workflow_channel
from floww.sdk import wire

__all__ = ["HttpPlatform"]

SubscriptionFactory = Callable[[str, str, str], Subscription]


def _centrifuge(url: str, token: str, channel: str) -> Subscription:
    from floww.adapters.http_client.centrifuge_subscription import CentrifugeSubscription

    return CentrifugeSubscription(url, token, channel)


def _seg(value: str) -> str:
    return quote(value, safe="")


class HttpPlatform(ServerApi):
    def __init__(self, api: ApiClient, *, subscriber: SubscriptionFactory = _centrifuge) -> None:
        self.api = api
        self._subscriber = subscriber
        self._config: dict[str, Any] | None = None
        self._repliers: dict[str, RpcCaller] = {}  # workflow id -> its dev subscription

    # server configuration ---------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """``/api/config``, fetched once."""
        if self._config is None:
            self._config = dict(self.api.get("/api/config", auth=False))
        return self._config

    def runtime_target(self) -> RuntimeTarget:
        return structure(self.config().get("runtime_target"), RuntimeTarget)

    def realtime_url(self) -> str:
        config = self.config()
        url = config.get("realtime_url")
        nested = config.get("realtime")
        if not url and isinstance(nested, dict):
            url = nested.get("url")
        if not isinstance(url, str) or not url:
            raise Unavailable(f"{self.api.base_url} advertises no realtime URL in /api/config")
        return url

    # workflows --------------------------------------------------------------------------------

    def get_workflow(self, workflow_id: str) -> Workflow:
        return structure(self.api.get(f"/api/workflows/{_seg(workflow_id)}"), Workflow)

    def has_active_deployment(self, workflow_id: str) -> bool:
        return any(d.get("status") == "active" for d in self.list_deployments(workflow_id))

    def find_workflow(self, namespace_id: str, name: str) -> Workflow | None:
        found = self.api.get(
            f"/api/namespaces/{_seg(namespace_id)}/workflows", params={"name": name}
        )["items"]
        return structure(found[0], Workflow) if found else None

    def create_workflow(self, namespace_id: str, name: str) -> Workflow:
        made = self.api.post(f"/api/namespaces/{_seg(namespace_id)}/workflows", {"name": name})
        return structure(made, Workflow)

    # providers --------------------------------------------------------------------------------

    def provider_fields(self, provider_type: str) -> tuple[ProviderField, ...]:
        doc = self.api.get(f"/api/provider-types/{_seg(provider_type)}")
        return tuple(structure(f, ProviderField) for f in doc.get("fields", []))

    def provider_configs(self, namespace_id: str) -> dict[str, dict[str, str]]:
        doc = self.api.get(f"/api/namespaces/{_seg(namespace_id)}/provider-configs")
        return wire.providers_from_wire(doc.get("providers", {}))

    def setup_provider(
        self, namespace_id: str, ref: ProviderRef, config: dict[str, str]
    ) -> Provider:
        doc = self.api.put(
            f"/api/namespaces/{_seg(namespace_id)}/providers/{_seg(ref.type)}/{_seg(ref.alias)}",
            {"config": config},
        )
        return Provider(
            id=str(doc["id"]),
            namespace_id=namespace_id,
            type=str(doc["type"]),
            alias=str(doc["alias"]),
            config=dict(doc.get("config") or {}),
        )

    def remove_provider(self, namespace_id: str, ref: ProviderRef) -> None:
        self.api.delete(
            f"/api/namespaces/{_seg(namespace_id)}/providers/{_seg(ref.type)}/{_seg(ref.alias)}"
        )

    # dev --------------------------------------------------------------------------------------

    def sync_dev_triggers(
        self, workflow_id: str, triggers: Sequence[TriggerSpec], *, session_id: str = "default"
    ) -> tuple[str, ...]:
        doc = self.api.put(
            f"/api/workflows/{_seg(workflow_id)}/dev-triggers",
            {"triggers": [wire.spec_to_wire(s) for s in triggers], "session_id": session_id},
        )
        return tuple(str(u) for u in doc.get("webhook_urls", []))

    def clear_dev_triggers(self, workflow_id: str, *, session_id: str = "default") -> None:
        self.api.delete(f"/api/workflows/{_seg(workflow_id)}/dev-sessions/{_seg(session_id)}")

    def renew_dev_session(self, workflow_id: str, session_id: str) -> None:
        self.api.post(f"/api/workflows/{_seg(workflow_id)}/dev-sessions/{_seg(session_id)}/lease")

    def dev_token(self, workflow_id: str) -> str:
        answer = self.api.post(f"/api/workflows/{_seg(workflow_id)}/dev-token")
        return str(answer["token"])

    def subscribe(self, workflow_id: str) -> Subscription:
        token = self.api.token or ""
        subscription = self._subscriber(self.realtime_url(), token, workflow_channel(workflow_id))
        offered = self.config().get("realtime_rpc")
        if isinstance(subscription, RpcCaller) and DEV_REPLY_RPC in (offered or ()):
            self._repliers[workflow_id] = subscription
        return subscription

    def reply(self, workflow_id: str, reply_to: str, token: str, result: InvocationResult) -> None:
        answer = {"token": token, "result": wire.result_to_wire(result)}
        replier = self._repliers.get(workflow_id)
        if replier is not None:
            try:
                replier.call(DEV_REPLY_RPC, {"execution_id": reply_to, **answer})
                return
            except RpcNotSent as exc:
                if not exc.offered:
                    self._repliers.pop(workflow_id, None)
        self.api.post(f"/api/dev/replies/{_seg(reply_to)}", answer)

    # runtimes and deployments -----------------------------------------------------------------

    def find_runtime(self, namespace_id: str, spec_hash: str) -> Runtime | None:
        try:
            doc = self.api.get(f"/api/namespaces/{_seg(namespace_id)}/runtimes/{_seg(spec_hash)}")
        except NotFound as exc:
            if exc.kind == "runtime":
                return None
            raise
        return structure(doc, Runtime)

    def create_runtime(self, namespace_id: str, spec_hash: str, image_ref: str) -> Runtime:
        doc = self.api.post(
            f"/api/namespaces/{_seg(namespace_id)}/runtimes",
            {"spec_hash": spec_hash, "image_ref": image_ref},
            timeout=600,
        )
        return structure(doc, Runtime)

    def plan_deployment(self, workflow_id: str, triggers: Sequence[TriggerSpec]) -> TriggerDiff:
        doc = self.api.post(
            f"/api/workflows/{_seg(workflow_id)}/deployments/plan",
            {"triggers": [wire.spec_to_wire(s) for s in triggers]},
        )
        return _diff(doc)

    def create_deployment(
        self,
        workflow_id: str,
        *,
        runtime_id: str,
        code: CodeBundle,
        triggers: Sequence[TriggerSpec],
        provider_mapping: dict[str, str],
    ) -> DeploymentReceipt:
        doc = self.api.post(
            f"/api/workflows/{_seg(workflow_id)}/deployments",
            {
                "runtime_id": runtime_id,
                "code": wire.code_to_wire(code),
                "triggers": [wire.spec_to_wire(s) for s in triggers],
                "provider_mapping": provider_mapping,
            },
            timeout=600,
        )
        shown = doc["deployment"]
        deployment = Deployment(
            id=str(shown["id"]),
            workflow_id=str(shown["workflow_id"]),
            runtime_id=str(shown["runtime_id"]),
            code=code,  # the answer names the code by digest only; it is what was sent
            triggers=tuple(wire.spec_from_wire(s) for s in shown.get("triggers", [])),
            provider_mapping=dict(shown.get("provider_mapping") or {}),
            status=DeploymentStatus(shown.get("status", "active")),
            created_at=None,
        )
        urls = tuple(str(u) for u in doc.get("webhook_urls", []))
        endpoints = endpoints_from_json(doc.get("webhooks", []))
        hooks = hook_outcomes_from_json(doc.get("provider_hooks", []))
        return DeploymentReceipt(deployment, urls, _diff(doc["diff"]), endpoints, hooks)

    # registry ---------------------------------------------------------------------------------

    def registry_credentials(self, namespace_id: str, repository: str) -> RegistryCredentials:
        """Short-lived credentials to push ``repository`` to the server's registry."""
        doc = self.api.post(
            f"/api/namespaces/{_seg(namespace_id)}/registry-credentials",
            {"repository": repository},
        )
        return RegistryCredentials(
            registry=str(doc["registry"]),
            username=str(doc["username"]),
            password=str(doc["password"]),
            expires_in=int(doc["expires_in"]),
        )

    # listings (the API's JSON, for display) ---------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        return dict(self.api.get("/api/whoami"))

    def list_namespaces(self) -> list[dict[str, Any]]:
        return list(self.api.get("/api/namespaces")["items"])

    def list_workflows(self, namespace_id: str) -> list[dict[str, Any]]:
        return list(self.api.get(f"/api/namespaces/{_seg(namespace_id)}/workflows")["items"])

    def list_deployments(self, workflow_id: str) -> list[dict[str, Any]]:
        return list(self.api.get(f"/api/workflows/{_seg(workflow_id)}/deployments")["items"])

    def activate_deployment(
        self, workflow_id: str, deployment_id: str | None = None
    ) -> dict[str, Any]:
        base = f"/api/workflows/{_seg(workflow_id)}/deployments"
        path = f"{base}/{_seg(deployment_id)}/activate" if deployment_id else f"{base}/rollback"
        return dict(self.api.post(path))

    def deactivate_deployment(self, workflow_id: str) -> dict[str, Any] | None:
        answer = self.api.post(f"/api/workflows/{_seg(workflow_id)}/deployments/deactivate")
        previous = answer.get("deactivated")
        return dict(previous) if previous is not None else None

    def delete_workflow(self, workflow_id: str) -> None:
        self.api.delete(f"/api/workflows/{_seg(workflow_id)}")

    def list_executions(
        self,
        workflow_id: str,
        *,
        status: str | None = None,
        limit: int = 20,
        since: str | None = None,
        trigger_id: str | None = None,
    ) -> list[dict[str, Any]]:
        params = _execution_filters(status, limit, since)
        if trigger_id:
            params["trigger_id"] = trigger_id
        doc = self.api.get(f"/api/workflows/{_seg(workflow_id)}/executions", params=params)
        return list(doc["items"])

    def list_namespace_executions(
        self,
        namespace_id: str,
        *,
        status: str | None = None,
        limit: int = 20,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        params = _execution_filters(status, limit, since)
        doc = self.api.get(f"/api/namespaces/{_seg(namespace_id)}/executions", params=params)
        return list(doc["items"])

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        return dict(self.api.get(f"/api/executions/{_seg(execution_id)}"))

    def invoke_manual(self, workflow_id: str, name: str, payload: Any) -> dict[str, Any]:
        return dict(
            self.api.post(
                f"/api/workflows/{_seg(workflow_id)}/manual/{_seg(name)}",
                {"input": payload},
                timeout=600,
            )
        )

    def list_providers(self, namespace_id: str) -> list[dict[str, Any]]:
        return list(self.api.get(f"/api/namespaces/{_seg(namespace_id)}/providers")["items"])

    def list_provider_types(self) -> list[dict[str, Any]]:
        return list(self.api.get("/api/provider-types")["items"])


def _diff(doc: dict[str, Any]) -> TriggerDiff:
    return TriggerDiff(
        added=tuple(wire.spec_from_wire(s) for s in doc.get("added", [])),
        removed=tuple(wire.spec_from_wire(s) for s in doc.get("removed", [])),
        kept=tuple(wire.spec_from_wire(s) for s in doc.get("kept", [])),
    )


def _execution_filters(status: str | None, limit: int, since: str | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {"limit": limit}
    if status:
        params["status"] = status
    if since:
        params["since"] = since
    return params
