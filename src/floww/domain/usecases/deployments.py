"""Server side of a deploy: runtimes, the trigger plan, and creating a deployment.

create_deployment: check access -> ask the runtime for definitions (proves the code loads) ->
check every used provider exists in the namespace -> store the deployment as active (the
previous one becomes inactive) -> sync triggers (remove / add / keep by identity) -> return the
webhook URLs.
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
)
from floww.domain.oci import image_repository, runtime_repository
from floww.domain.triggers import TriggerDiff, diff_triggers, webhook_url
from floww.domain.usecases.access import require_namespace, require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.triggers import check_trigger_set, sync_triggers
from floww.ports.platform import DeploymentReceipt

__all__ = [
    "DeploymentRequest",
    "create_deployment",
    "create_runtime",
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
    require_namespace(deps.repo, principal, namespace_id)
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
    require_workflow(deps.repo, principal, workflow_id)
    current = [t.spec for t in deps.repo.list_triggers(workflow_id, TriggerSource.DEPLOYMENT)]
    return diff_triggers(current, specs)


def create_deployment(
    deps: ServerDeps, principal: Principal, request: DeploymentRequest
) -> DeploymentReceipt:
    """Raises ``NotFound`` (workflow, runtime), ``UserCodeError`` (the code does not load on
    the runtime), ``ProviderNotConfigured`` and ``InvalidInput``."""
    workflow = require_workflow(deps.repo, principal, request.workflow_id)
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
    missing = sorted(
        (ProviderRef.parse(key).type, alias)
        for key, alias in mapping.items()
        if deps.repo.find_provider(
            workflow.namespace_id, ProviderRef(ProviderRef.parse(key).type, alias)
        )
        is None
    )
    if missing:
        raise ProviderNotConfigured(missing)

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
    )
    deps.repo.activate_deployment(deployment)
    diff, webhooks = sync_triggers(
        deps.repo,
        deps.ids,
        workflow_id=workflow.id,
        source=TriggerSource.DEPLOYMENT,
        specs=definitions.triggers,
        deployment_id=deployment.id,
    )
    urls = tuple(f"{h.method} {webhook_url(deps.settings.base_url, h)}" for h in webhooks)
    return DeploymentReceipt(deployment, urls, diff)
