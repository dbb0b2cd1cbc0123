"""Deployments of a workflow: plan (the trigger diff), create, list."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from floww.codec import endpoints_json, hook_outcomes_json
from floww.domain.errors import InvalidInput
from floww.domain.model import TriggerSpec
from floww.domain.triggers import TriggerDiff
from floww.domain.usecases import deployments
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    call,
    decoded_field,
    deployment_json,
    field,
    json_object,
    ok,
    op,
    optional_field,
    read_json,
    run_as,
    services,
)
from floww.entrypoints.http.openapi import items_of, ref
from floww.ports.platform import DeploymentReceipt
from floww.sdk import wire

__all__ = ["ROUTES", "diff_json", "triggers_from"]


def triggers_from(doc: dict[str, Any], name: str = "triggers") -> tuple[TriggerSpec, ...]:
    specs = field(doc, name, list)
    try:
        return tuple(wire.spec_from_wire(spec) for spec in specs)
    except InvalidInput as exc:
        raise InvalidInput(f"field {name!r}: {exc.message}", field=name) from None


def diff_json(diff: TriggerDiff) -> dict[str, Any]:
    return {
        "added": [wire.spec_to_wire(s) for s in diff.added],
        "removed": [wire.spec_to_wire(s) for s in diff.removed],
        "kept": [wire.spec_to_wire(s) for s in diff.kept],
    }


def _mapping(doc: dict[str, Any]) -> dict[str, str]:
    mapping = optional_field(doc, "provider_mapping", dict, {})
    if not all(isinstance(v, str) for v in mapping.values()):
        raise InvalidInput("field 'provider_mapping' must map to alias strings")
    return mapping


def _deploy_limit(request: Request) -> int:
    """Deployments carry a workflow's code and every trigger it declares: they have their own
    body limit (``deploy_max_body_bytes``), apart from the webhooks' one."""
    return services(request).deps.settings.deploy_max_body_bytes


async def create_deployment(request: Request) -> Response:
    principal = await authenticate(request)
    doc = json_object(await read_json(request, _deploy_limit(request)))
    code = decoded_field(doc, "code", wire.code_from_wire)
    deployment_request = deployments.DeploymentRequest(
        workflow_id=request.path_params["workflow_id"],
        runtime_id=field(doc, "runtime_id", str),
        code=code,
        provider_mapping=_mapping(doc),
        declared_triggers=triggers_from(doc) if doc.get("triggers") is not None else None,
    )
    receipt = await run_as(request, principal, deployments.create_deployment, deployment_request)
    return ok(_receipt_json(receipt), 201)


async def plan_deployment(request: Request) -> Response:
    principal = await authenticate(request)
    specs = triggers_from(json_object(await read_json(request, _deploy_limit(request))))
    diff = await run_as(
        request, principal, deployments.plan_deployment, request.path_params["workflow_id"], specs
    )
    return ok(diff_json(diff))


async def list_deployments(request: Request) -> Response:
    found = await call(request, deployments.deployment_history, request.path_params["workflow_id"])
    return ok({"items": [deployment_json(d) | {"image_ref": image} for d, image in found]})


def _receipt_json(receipt: DeploymentReceipt) -> dict[str, Any]:
    return {
        "deployment": deployment_json(receipt.deployment),
        "webhook_urls": list(receipt.webhook_urls),
        "webhooks": endpoints_json(receipt.webhooks),
        "provider_hooks": hook_outcomes_json(receipt.provider_hooks),
        "diff": diff_json(receipt.diff),
    }


async def activate_deployment(request: Request) -> Response:
    """Roll back (or forward) to a stored deployment: no build, triggers synced to it."""
    receipt = await call(
        request,
        deployments.activate_deployment,
        request.path_params["workflow_id"],
        request.path_params.get("deployment_id"),
    )
    return ok(_receipt_json(receipt))


async def deactivate_deployment(request: Request) -> Response:
    previous = await call(
        request, deployments.deactivate_deployment, request.path_params["workflow_id"]
    )
    return ok({"deactivated": deployment_json(previous) if previous is not None else None})


_TRIGGERS = {"type": "array", "items": ref("TriggerSpec")}
_CREATE = {
    "type": "object",
    "required": ["runtime_id", "code"],
    "properties": {
        "runtime_id": {"type": "string"},
        "code": ref("CodeBundle"),
        "triggers": _TRIGGERS,
        "provider_mapping": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_PLAN = {"type": "object", "required": ["triggers"], "properties": {"triggers": _TRIGGERS}}
_BASE = "/api/workflows/{workflow_id}/deployments"

ROUTES = [
    op(
        "POST",
        _BASE,
        create_deployment,
        Doc(
            "Deploy code on a runtime; returns webhook URLs and the trigger diff",
            _CREATE,
            "DeploymentReceipt",
            201,
        ),
    ),
    op(
        "GET",
        _BASE,
        list_deployments,
        Doc("Deployments, newest first", None, items_of("Deployment")),
    ),
    op(
        "POST",
        f"{_BASE}/plan",
        plan_deployment,
        Doc("The trigger diff a deployment would make; changes nothing", _PLAN, "TriggerDiff"),
    ),
    op(
        "POST",
        f"{_BASE}/{{deployment_id}}/activate",
        activate_deployment,
        Doc(
            "Make a stored deployment active again (rollback): no build; triggers follow it",
            None,
            "DeploymentReceipt",
        ),
    ),
    op(
        "POST",
        f"{_BASE}/rollback",
        activate_deployment,
        Doc("Make the deployment before the active one active again", None, "DeploymentReceipt"),
    ),
    op(
        "POST",
        f"{_BASE}/deactivate",
        deactivate_deployment,
        Doc(
            "Back to dev-only: no active deployment, its triggers removed",
            None,
            {"type": "object", "properties": {"deactivated": ref("Deployment")}},
        ),
    ),
]
