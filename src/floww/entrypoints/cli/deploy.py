"""``floww deploy``: ship the project to the server (docs/architecture.md, "Flows")."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import click

from floww.codec import endpoints_json, hook_outcomes_json
from floww.domain.errors import InvalidInput, Unavailable
from floww.domain.oci import OciImage, is_base_repository, runtime_repository
from floww.domain.triggers import TriggerDiff
from floww.domain.usecases.deploy import DeployDeps, DeployRequest, DeployResult
from floww.domain.usecases.deploy import deploy as run_deploy
from floww.entrypoints.cli.main import handle_errors
from floww.entrypoints.cli.options import project_option, server_option
from floww.entrypoints.cli.output import Progress, echo_json
from floww.entrypoints.cli.project import Project, find_project
from floww.entrypoints.cli.prompter import TerminalPrompter
from floww.entrypoints.cli.session import CliEnv, Session, current_env, session
from floww.ports.image_registry import BaseImageSource, ImageRegistry
from floww.ports.support import ImageBuilder
from floww.sdk.bundle import bundle_from_directory

__all__ = ["deploy", "diff_lines", "docker_command"]


def docker_command(env: CliEnv) -> tuple[str, ...]:
    """The Docker client: ``FLOWW_DOCKER`` (a command line, for example ``podman``), else
    ``docker``."""
    return tuple(shlex.split(env.environ.get("FLOWW_DOCKER", ""))) or ("docker",)


def _echo_docker(line: str) -> None:
    click.echo(f"    {line}", err=True)


def _image_builder(
    env: CliEnv, project: Project, base_source: Callable[[str], OciImage]
) -> ImageBuilder:
    """The project's Dockerfile built by Docker when there is one, else the daemonless
    build. ``Unavailable`` when there is a Dockerfile but no daemon answers."""
    if not (project.root / "Dockerfile").exists():
        return env.adapters.pip_builder(env.cache_dir / "images", base_source=base_source)
    docker = env.adapters.docker_builder(project.root, docker_command(env), _echo_docker)
    available = env.docker_available or docker.daemon_reachable
    if not available():
        raise Unavailable(
            "this project has a Dockerfile, but no Docker daemon is reachable "
            "(`docker info` failed); start Docker, or remove the Dockerfile to use the "
            "daemonless build"
        )
    return docker


def diff_lines(diff: TriggerDiff) -> list[str]:
    return [
        *(f"+ {spec.describe()}" for spec in diff.added),
        *(f"- {spec.describe()}" for spec in diff.removed),
        *(f"= {spec.describe()}" for spec in diff.kept),
    ]


def _diff_json(diff: TriggerDiff) -> dict[str, list[str]]:
    return {
        "added": [s.describe() for s in diff.added],
        "removed": [s.describe() for s in diff.removed],
        "kept": [s.describe() for s in diff.kept],
    }


def _registry(s: Session, namespace_id: str) -> ImageRegistry:
    """The server's ``/v2/``, authenticated with short-lived push credentials (Basic, the
    push token as password), asked for once per repository."""
    issued: dict[str, tuple[str, str]] = {}

    def credentials(repository: str) -> tuple[str, str]:
        if is_base_repository(repository):  # the platform's bases: any push token reads them
            repository = runtime_repository(namespace_id)
        if repository not in issued:
            got = s.platform.registry_credentials(namespace_id, repository)
            issued[repository] = (got.username, got.password)
        return issued[repository]

    return s.env.adapters.registry(
        s.server, s.api_http, credentials, s.platform.registry_credentials
    )


def _base_source(registries: list[ImageRegistry]) -> Callable[[str], OciImage]:
    """The server's base image (``repository@digest`` or ``repository:tag``) read by
    reference from its registry: manifest and config only, never a layer."""

    def describe(reference: str) -> OciImage:
        registry = registries[0]
        if not isinstance(registry, BaseImageSource):
            raise InvalidInput("this client cannot read base images from the server's registry")
        if "@" in reference:
            repository, _, ref = reference.partition("@")
        else:
            repository, _, ref = reference.rpartition(":")
        return registry.describe(repository, ref)

    return describe


def _result_json(result: DeployResult, plan: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "workflow": {
            "id": result.workflow.id,
            "name": result.workflow.name,
            "namespace_id": result.workflow.namespace_id,
        },
        "plan": plan,
        "diff": _diff_json(result.diff),
    }
    if not plan:
        receipt = result.receipt
        doc |= {
            "deployment_id": receipt.deployment.id if receipt else None,
            "image_ref": result.image_ref,
            "image": {"built": result.built, "uploaded": result.uploaded},
            "built": result.built,
            "uploaded": result.uploaded,
            "runtime_created": result.runtime_created,
            "webhook_urls": list(receipt.webhook_urls) if receipt else [],
            "webhooks": endpoints_json(receipt.webhooks if receipt else ()),
            "provider_hooks": hook_outcomes_json(receipt.provider_hooks if receipt else ()),
        }
    return doc


@click.command()
@click.option("--plan", is_flag=True, help="Show the trigger changes; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Never prompt (for CI).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@project_option
@server_option
@handle_errors()
def deploy(plan: bool, yes: bool, as_json: bool, project_dir: Path, server: str | None) -> None:
    """Deploy the project: load the code, check its providers, build the runtime image for the
    server's target without Docker (only when the registry lacks it), upload it, and create
    the deployment. Prints the webhook URLs.

    A project with its own Dockerfile is built with `docker build` instead, which needs a
    Docker daemon (the client is `docker`, or the command in FLOWW_DOCKER).

    \b
    Examples:
      floww deploy --plan      # + added, - removed, = kept triggers; changes nothing
      floww deploy --yes --json
    """
    env = current_env()
    project = find_project(project_dir.resolve())
    registries: list[ImageRegistry] = []  # the server's, once there is a session
    builder = _image_builder(env, project, _base_source(registries))
    code = bundle_from_directory(project.root, project.entrypoint)
    s = session(server)
    ns = s.namespace(project.namespace)
    progress = Progress()
    request = DeployRequest(
        namespace_id=str(ns["id"]),
        workflow_name=project.name,
        code=code,
        requirements=project.requirement_lines(),
        workflow_id=project.workflow_id,
        provider_mapping=project.providers,
        plan=plan,
        assume_yes=yes,
    )
    registries.append(_registry(s, str(ns["id"])))
    try:
        deps = DeployDeps(
            platform=s.platform,
            registry=registries[0],
            builder=builder,
            runner=env.adapters.runner(),
            prompter=TerminalPrompter(interactive=env.interactive and not yes),
            report=progress.step,
        )
        result = run_deploy(deps, request)
    except BaseException:
        progress.done("failed")
        raise
    progress.done()
    if result.workflow.id != project.workflow_id:
        attrs.evolve(project, workflow_id=result.workflow.id).save()
    if as_json:
        echo_json(_result_json(result, plan))
        return
    if plan:
        click.echo(f"Plan for {result.workflow.name} (nothing was changed):")
        for line in diff_lines(result.diff) or ["(no triggers)"]:
            click.echo(f"  {line}")
        d = result.diff
        click.echo(f"{len(d.added)} to add, {len(d.removed)} to remove, {len(d.kept)} kept.")
        return
    image = "built and uploaded" if result.uploaded else "already in the registry"
    click.echo(f"Deployed {result.workflow.name}; runtime image {image}.")
    for line in diff_lines(result.diff):
        click.echo(f"  {line}")
    receipt = result.receipt
    endpoints = receipt.webhooks if receipt else ()
    if endpoints:
        click.echo("Webhooks:")
        for endpoint in endpoints:
            click.echo(f"  {endpoint.line}")
            for label in endpoint.triggers:
                click.echo(f"    <- {label}")
    elif receipt and receipt.webhook_urls:  # a server that does not label its URLs
        click.echo("Webhooks:")
        for url in receipt.webhook_urls:
            click.echo(f"  {url}")
    for hook in receipt.provider_hooks if receipt else ():
        where = f"{hook.provider} webhook on {hook.target}"
        if hook.failed:
            click.echo(f"Warning: {where} not registered: {hook.message}.", err=True)
        else:
            click.echo(f"{where}: {hook.message}.")
