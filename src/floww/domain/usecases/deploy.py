"""Client side of ``floww deploy`` (docs/architecture.md, "Flows").

prerequisites: the workflow exists (``project_workflow.resolve_workflow``, as for dev).
checks: fetch providers -> execute userspace -> verify every used provider is configured.
deploy: build the runtime image (only when the registry lacks its tag) -> upload it -> create
the runtime if missing -> create the deployment. ``plan`` stops after the checks and returns
the trigger diff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from floww.domain.errors import InvalidInput, ProviderNotConfigured
from floww.domain.model import CodeBundle, ProviderRef, RuntimeStatus, Workflow
from floww.domain.oci import runtime_repository
from floww.domain.triggers import TriggerDiff
from floww.domain.usecases.project_workflow import resolve_workflow
from floww.domain.usecases.providers import missing_providers
from floww.ports.image_registry import ImageRegistry
from floww.ports.platform import DeploymentReceipt, Platform
from floww.ports.support import ImageBuilder, Prompter
from floww.ports.userspace import UserspaceRunner

__all__ = ["DeployDeps", "DeployRequest", "DeployResult", "deploy", "runtime_repository"]


@attrs.frozen
class DeployRequest:
    namespace_id: str
    workflow_name: str
    code: CodeBundle
    requirements: tuple[str, ...] = ()
    workflow_id: str | None = None
    provider_mapping: Mapping[str, str] = attrs.field(factory=dict)
    plan: bool = False
    assume_yes: bool = False


@attrs.frozen
class DeployResult:
    workflow: Workflow
    diff: TriggerDiff
    receipt: DeploymentReceipt | None = None
    image_ref: str = ""
    built: bool = False
    uploaded: bool = False
    runtime_created: bool = False


@attrs.frozen
class DeployDeps:
    """The ports ``deploy`` runs over; ``report`` hears each step (progress)."""

    platform: Platform
    registry: ImageRegistry
    builder: ImageBuilder
    runner: UserspaceRunner
    prompter: Prompter
    report: Callable[[str], None] = lambda _: None


def deploy(deps: DeployDeps, request: DeployRequest) -> DeployResult:
    """Raises ``UserCodeError`` (the code does not load), ``ProviderNotConfigured`` (missing
    credentials and ``assume_yes`` forbids asking), and what the platform raises."""
    platform, registry, builder = deps.platform, deps.registry, deps.builder
    runner, prompter, report = deps.runner, deps.prompter, deps.report
    workflow = resolve_workflow(
        platform,
        name=request.workflow_name,
        workflow_id=request.workflow_id,
        namespace_id=lambda: request.namespace_id,
        prompter=prompter,
        assume_yes=request.assume_yes,
        command="floww deploy",
        plan=request.plan,
    )

    report("Fetching provider configuration")
    configs = platform.provider_configs(workflow.namespace_id)
    report("Loading your code")
    definitions = runner.load(request.code, configs)
    served = {
        ref.key: ProviderRef(ref.type, request.provider_mapping.get(ref.key, ref.alias)).key
        for ref in definitions.providers
    }
    missing = missing_providers([ProviderRef.parse(k) for k in served.values()], configs)
    if missing:
        if request.assume_yes or request.plan:
            raise ProviderNotConfigured([(r.type, r.alias) for r in missing])
        for ref in missing:
            fields = definitions.provider_fields.get(ref.key) or platform.provider_fields(ref.type)
            prompter.say(f"Provider {ref.key} is not configured; set it up now.")
            platform.setup_provider(
                workflow.namespace_id,
                ref,
                {f.name: prompter.ask(f, provider=ref.key) for f in fields},
            )

    if request.plan:
        return DeployResult(workflow, platform.plan_deployment(workflow.id, definitions.triggers))

    target = platform.runtime_target()
    tag = builder.spec_hash(target, request.requirements)
    repository = runtime_repository(workflow.namespace_id)
    image_ref = f"{repository}:{tag}"
    built = uploaded = created = False
    runtime = platform.find_runtime(workflow.namespace_id, tag)
    if runtime is None or runtime.status != RuntimeStatus.READY:
        if not registry.exists(repository, tag):
            report(
                f"Building runtime image {tag[:12]} "
                f"({target.platform}, Python {target.python_version})"
            )
            image = builder.build(target, request.requirements)
            built = True
            report("Uploading runtime image")
            registry.push(repository, image.tag, image.image)
            uploaded = True
        report("Creating runtime")
        runtime = platform.create_runtime(workflow.namespace_id, tag, image_ref)
        created = True
        if runtime.status != RuntimeStatus.READY:
            raise InvalidInput(
                f"runtime {runtime.id} could not start: {runtime.error or runtime.status.value}"
            )

    report("Creating deployment")
    receipt = platform.create_deployment(
        workflow.id,
        runtime_id=runtime.id,
        code=request.code,
        triggers=definitions.triggers,
        provider_mapping={k: ProviderRef.parse(v).alias for k, v in served.items()},
    )
    return DeployResult(workflow, receipt.diff, receipt, image_ref, built, uploaded, created)
