"""Server side of a deploy: runtimes, the trigger plan, and creating a deployment.

create_deployment: check access -> ask the runtime for definitions (proves the code loads) ->
check every used provider exists in the namespace -> store the deployment as active (the
previous one becomes inactive) -> sync triggers (remove / add / keep by identity) -> return the
webhook URLs.

activate_deployment (rollback) makes a stored deployment active again and syncs the triggers
to its specs: no build, no new runtime. deactivate_deployment leaves the workflow with no
active deployment and no deployment triggers, so its dev sessions answer again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from floww.domain.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProviderNotConfigured,
    UserCodeError,
)
from floww.domain.model import (
    CodeBundle,
    Deployment,
    DeploymentStatus,
    Principal,
    ProviderRef,
    Runtime,
    RuntimeStatus,
    TriggerSource,
    TriggerSpec,
    Webhook,
)
from floww.domain.oci import image_repository, runtime_repository
from floww.domain.triggers import TriggerDiff, diff_triggers, webhook_endpoints
from floww.domain.usecases.access import Action, require_namespace, require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.provider_hooks import register_provider_hooks
from floww.domain.usecases.triggers import check_trigger_set, sync_triggers
from floww.ports.platform import DeploymentReceipt

__all__ = [
    "DeploymentRequest",
    "activate_deployment",
    "create_deployment",
    "create_runtime",
    "deactivate_deployment",
    "deployment_history",
    "plan_deployment",
    "resolve_provider_mapping",
]


@attrs.frozen
class DeploymentRequest:
    workflow_id: str
    runtime_id: str
    code: CodeBundle
    provider_mapping: Mapping[str, str] = attrs.field(factory=dict)
    declared_triggers: tuple[TriggerSpec, ...] | None = None


def create_runtime(
    deps: ServerDeps, principal: Principal, *, namespace_id: str, spec_hash: str, image_ref: str
) -> Runtime:
    """Find the namespace's runtime for ``spec_hash`` or create it from ``image_ref`` on the
    function host. A runtime whose image failed is retried. The image must be one of the
    namespace's own (``floww/<namespace id>``): ``PermissionDenied`` otherwise."""
    require_namespace(deps.repo, principal, namespace_id, Action.DEPLOY)
    if image_repository(image_ref) != runtime_repository(namespace_id):
        raise PermissionDenied(
            f"runtime images of this namespace come from {runtime_repository(namespace_id)}, "
            f"not {image_repository(image_ref)}"
        )
    existing = deps.repo.find_runtime(namespace_id, spec_hash)
    if existing is not None and existing.status == RuntimeStatus.READY:
        return existing
    runtime = existing or Runtime(
        id=deps.ids.new_id("rt"),
        namespace_id=namespace_id,
        spec_hash=spec_hash,
        image_ref=image_ref,
        created_at=deps.clock.now(),
    )
    runtime = attrs.evolve(runtime, image_ref=image_ref)
    deps.repo.save_runtime(runtime)
    made = deps.host.create_runtime(runtime)
    deps.repo.save_runtime(made)
    return made


def resolve_provider_mapping(
    used: Sequence[ProviderRef], mapping: Mapping[str, str]
) -> dict[str, str]:
    """Map each provider the code uses (``type:alias``) to the namespace alias that serves it;
    unmapped ones are served by the same alias."""
    unknown = set(mapping) - {ref.key for ref in used}
    if unknown:
        raise InvalidInput(
            f"provider mapping names providers the code does not use: {sorted(unknown)}"
        )
    return {ref.key: mapping.get(ref.key, ref.alias) for ref in used}


def plan_deployment(
    deps: ServerDeps, principal: Principal, workflow_id: str, specs: Sequence[TriggerSpec]
) -> TriggerDiff:
    """The trigger diff a deployment of ``specs`` would make; changes nothing."""
    require_workflow(deps.repo, principal, workflow_id, Action.DEPLOY)
    current = [t.spec for t in deps.repo.list_triggers(workflow_id, TriggerSource.DEPLOYMENT)]
    return diff_triggers(current, specs)


def _require_providers(deps: ServerDeps, namespace_id: str, mapping: Mapping[str, str]) -> None:
    """``ProviderNotConfigured`` naming every provider ``mapping`` needs that the namespace
    lacks."""
    missing = sorted(
        (ProviderRef.parse(key).type, alias)
        for key, alias in mapping.items()
        if deps.repo.find_provider(namespace_id, ProviderRef(ProviderRef.parse(key).type, alias))
        is None
    )
    if missing:
        raise ProviderNotConfigured(missing)


def create_deployment(
    deps: ServerDeps, principal: Principal, request: DeploymentRequest
) -> DeploymentReceipt:
    """Raises ``NotFound`` (workflow, runtime), ``UserCodeError`` (the code does not load on
    the runtime), ``ProviderNotConfigured`` and ``InvalidInput``."""
    workflow = require_workflow(deps.repo, principal, request.workflow_id, Action.DEPLOY)
    try:
        runtime = deps.repo.get_runtime(request.runtime_id)
    except NotFound:
        raise NotFound("runtime", request.runtime_id) from None
    if runtime.namespace_id != workflow.namespace_id:
        raise NotFound("runtime", request.runtime_id)
    if runtime.status != RuntimeStatus.READY:
        raise InvalidInput(
            f"runtime {runtime.id} is {runtime.status.value}: {runtime.error or 'not ready'}"
        )

    configs = {p.ref.key: dict(p.config) for p in deps.repo.list_providers(workflow.namespace_id)}
    definitions = deps.host.get_definitions(runtime, request.code, configs)
    if request.declared_triggers is not None:
        declared = {s.identity for s in request.declared_triggers}
        if declared != {s.identity for s in definitions.triggers}:
            raise UserCodeError(
                "the triggers the runtime loaded differ from the ones the client declared"
            )
    mapping = resolve_provider_mapping(definitions.providers, request.provider_mapping)
    _require_providers(deps, workflow.namespace_id, mapping)

    check_trigger_set(workflow.id, definitions.triggers)
    deployment = Deployment(
        id=deps.ids.new_id("dep"),
        workflow_id=workflow.id,
        runtime_id=runtime.id,
        code=request.code,
        triggers=definitions.triggers,
        provider_mapping=mapping,
        status=DeploymentStatus.ACTIVE,
        created_at=deps.clock.now(),
        created_by=principal.email or f"{principal.kind}:{principal.id}",
    )
    return _receipt(deps, deployment, *_activate(deps, deployment))


def _earlier_than_active(deps: ServerDeps, workflow_id: str) -> str:
    history = deps.repo.list_deployments(workflow_id)
    active = [i for i, d in enumerate(history) if d.status == DeploymentStatus.ACTIVE]
    if not active:
        raise InvalidInput("the workflow has no active deployment; name the deployment to activate")
    if active[0] + 1 >= len(history):
        raise InvalidInput("the active deployment is the first one; there is none before it")
    return history[active[0] + 1].id


def activate_deployment(
    deps: ServerDeps, principal: Principal, workflow_id: str, deployment_id: str | None = None
) -> DeploymentReceipt:
    """Make one of the workflow's deployments active again (``None``: the one before the
    active one) and sync the deployment triggers to its specs. Raises ``NotFound`` (workflow,
    deployment of another workflow), ``InvalidInput`` (nothing before the active one, its
    runtime is not ready) and ``ProviderNotConfigured`` (a provider it uses was removed)."""
    workflow = require_workflow(deps.repo, principal, workflow_id, Action.DEPLOY)
    target_id = deployment_id or _earlier_than_active(deps, workflow.id)
    try:
        target = deps.repo.get_deployment(target_id)
    except NotFound:
        raise NotFound("deployment", target_id) from None
    if target.workflow_id != workflow.id:
        raise NotFound("deployment", target_id)
    try:
        runtime = deps.repo.get_runtime(target.runtime_id)
    except NotFound:
        raise InvalidInput(f"the runtime of deployment {target.id} is gone") from None
    if runtime.status != RuntimeStatus.READY:
        raise InvalidInput(
            f"runtime {runtime.id} of deployment {target.id} is {runtime.status.value}"
        )
    _require_providers(deps, workflow.namespace_id, target.provider_mapping)
    check_trigger_set(workflow.id, target.triggers)
    synced = _activate(deps, target)
    return _receipt(deps, deps.repo.get_deployment(target.id), *synced)


def _activate(
    deps: ServerDeps, deployment: Deployment
) -> tuple[TriggerDiff, list[Webhook], list[TriggerSpec]]:
    """Make ``deployment`` its workflow's active one and sync the deployment triggers to its
    specs: the trigger diff, the webhooks, and the specs the triggers had before."""
    workflow_id = deployment.workflow_id
    before = [t.spec for t in deps.repo.list_triggers(workflow_id, TriggerSource.DEPLOYMENT)]
    deps.repo.activate_deployment(deployment)
    diff, webhooks = sync_triggers(
        deps.repo,
        deps.ids,
        workflow_id=workflow_id,
        source=TriggerSource.DEPLOYMENT,
        specs=deployment.triggers,
        deployment_id=deployment.id,
    )
    return diff, webhooks, before


def _receipt(
    deps: ServerDeps,
    deployment: Deployment,
    diff: TriggerDiff,
    webhooks: Sequence[Webhook],
    before: Sequence[TriggerSpec],
) -> DeploymentReceipt:
    """The receipt of a stored deployment: its URLs labelled with their triggers, and what
    registering its provider webhooks did (after the deployment is stored; never fails it)."""
    workflow = deps.repo.get_workflow(deployment.workflow_id)
    specs = {t.id: t.spec for t in deps.repo.list_triggers(workflow.id, TriggerSource.DEPLOYMENT)}
    endpoints = webhook_endpoints(deps.settings.base_url, webhooks, specs)
    hooks = register_provider_hooks(deps, workflow, before, deployment.triggers)
    return DeploymentReceipt(deployment, tuple(e.line for e in endpoints), diff, endpoints, hooks)


def deactivate_deployment(
    deps: ServerDeps, principal: Principal, workflow_id: str
) -> Deployment | None:
    """Return the workflow to dev-only: no active deployment, no deployment triggers (its
    webhooks answer 404 unless a dev session serves them). Returns the deployment that was
    active, or None (then only leftover deployment triggers are removed). ``NotFound``."""
    workflow = require_workflow(deps.repo, principal, workflow_id, Action.DEPLOY)
    previous = deps.repo.deactivate_deployment(workflow.id)
    sync_triggers(
        deps.repo,
        deps.ids,
        workflow_id=workflow.id,
        source=TriggerSource.DEPLOYMENT,
        specs=(),
    )
    return previous


def deployment_history(
    deps: ServerDeps, principal: Principal, workflow_id: str
) -> list[tuple[Deployment, str | None]]:
    """The workflow's deployments, newest first, each with the image reference of its
    runtime (None when that runtime is gone). ``NotFound``."""
    require_workflow(deps.repo, principal, workflow_id, Action.READ)
    images: dict[str, str | None] = {}
    history = []
    for deployment in deps.repo.list_deployments(workflow_id):
        if deployment.runtime_id not in images:
            try:
                images[deployment.runtime_id] = deps.repo.get_runtime(
                    deployment.runtime_id
                ).image_ref
            except NotFound:
                images[deployment.runtime_id] = None
        history.append((deployment, images[deployment.runtime_id]))
    return history
