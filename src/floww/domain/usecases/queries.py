"""Reads with access checks: what the API shows a principal about its namespaces.

Objects of namespaces the principal cannot see are ``NotFound``, never ``PermissionDenied``,
so that ids of other tenants are not confirmed to exist (see ``access``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from floww.domain.errors import InvalidInput, NotFound
from floww.domain.model import (
    Deployment,
    Execution,
    ExecutionStatus,
    Namespace,
    Principal,
    ProviderField,
    Runtime,
    Workflow,
)
from floww.domain.usecases.access import Action, allows, require_namespace, require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.providers import redact

__all__ = [
    "MAX_PAGE",
    "RedactedProvider",
    "find_runtime",
    "find_workflow",
    "get_execution",
    "get_namespace",
    "get_workflow",
    "list_deployments",
    "list_executions",
    "list_namespace_executions",
    "list_providers",
    "provider_configs",
    "trigger_labels",
]

MAX_PAGE = 200


@attrs.frozen
class RedactedProvider:
    """A provider as lists show it: secret fields replaced by ``providers.REDACTED``."""

    id: str
    type: str
    alias: str
    config: dict[str, str]


def get_namespace(deps: ServerDeps, principal: Principal, namespace_id: str) -> Namespace:
    return require_namespace(deps.repo, principal, namespace_id, Action.READ)


def get_workflow(deps: ServerDeps, principal: Principal, workflow_id: str) -> Workflow:
    return require_workflow(deps.repo, principal, workflow_id, Action.READ)


def find_workflow(
    deps: ServerDeps, principal: Principal, namespace_id: str, name: str
) -> Workflow | None:
    require_namespace(deps.repo, principal, namespace_id, Action.READ)
    return deps.repo.find_workflow(namespace_id, name)


def list_providers(
    deps: ServerDeps,
    principal: Principal,
    namespace_id: str,
    fields_for: Callable[[str], tuple[ProviderField, ...]],
) -> list[RedactedProvider]:
    """Every provider of the namespace with secrets redacted. A type the server no longer
    knows has every field treated as secret."""
    require_namespace(deps.repo, principal, namespace_id, Action.READ)
    shown: list[RedactedProvider] = []
    for provider in deps.repo.list_providers(namespace_id):
        try:
            fields = fields_for(provider.type)
        except NotFound:
            fields = ()
        shown.append(
            RedactedProvider(provider.id, provider.type, provider.alias, redact(provider, fields))
        )
    return sorted(shown, key=lambda p: (p.type, p.alias))


def provider_configs(
    deps: ServerDeps,
    principal: Principal,
    namespace_id: str,
    fields_for: Callable[[str], tuple[ProviderField, ...]] | None = None,
) -> dict[str, dict[str, str]]:
    """Every provider's config keyed ``type:alias``, for loading and running code. In plain
    text only for a caller with the ``secrets`` action (an owner; an API key of the ``full``
    scope); any other reader (a developer, a ``deploy`` key) gets the secret fields replaced
    by ``providers.REDACTED``, which is enough to load code and to see what is configured.
    Execution and registry tokens read none (``PermissionDenied``)."""
    require_namespace(deps.repo, principal, namespace_id, Action.READ)
    stored = deps.repo.list_providers(namespace_id)
    if allows(deps.repo, principal, namespace_id, Action.SECRETS):
        return {p.ref.key: dict(p.config) for p in stored}
    shown: dict[str, dict[str, str]] = {}
    for provider in stored:
        try:
            fields = fields_for(provider.type) if fields_for is not None else ()
        except NotFound:
            fields = ()
        shown[provider.ref.key] = redact(provider, fields)
    return shown


def find_runtime(
    deps: ServerDeps, principal: Principal, namespace_id: str, spec_hash: str
) -> Runtime | None:
    require_namespace(deps.repo, principal, namespace_id, Action.READ)
    return deps.repo.find_runtime(namespace_id, spec_hash)


def list_deployments(deps: ServerDeps, principal: Principal, workflow_id: str) -> list[Deployment]:
    """Newest first."""
    require_workflow(deps.repo, principal, workflow_id, Action.READ)
    return deps.repo.list_deployments(workflow_id)


def list_executions(
    deps: ServerDeps,
    principal: Principal,
    workflow_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    before: datetime | None = None,
    since: datetime | None = None,
    trigger_id: str | None = None,
) -> list[Execution]:
    """Newest first, at most ``limit`` (1..``MAX_PAGE``), received before ``before`` and at or
    after ``since``, of one trigger if ``trigger_id`` is given. ``InvalidInput`` for an unknown
    status or a limit out of range."""
    require_workflow(deps.repo, principal, workflow_id, Action.READ)
    wanted = _page_status(status, limit)
    return deps.repo.list_executions(
        workflow_id, status=wanted, limit=limit, before=before, since=since, trigger_id=trigger_id
    )


def list_namespace_executions(
    deps: ServerDeps,
    principal: Principal,
    namespace_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    before: datetime | None = None,
    since: datetime | None = None,
) -> list[Execution]:
    """The executions of every workflow of the namespace, as ``list_executions`` pages them."""
    require_namespace(deps.repo, principal, namespace_id, Action.READ)
    wanted = _page_status(status, limit)
    return deps.repo.list_namespace_executions(
        namespace_id, status=wanted, limit=limit, before=before, since=since
    )


def _page_status(status: str | None, limit: int) -> ExecutionStatus | None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be from 1 to {MAX_PAGE}")
    if status is None:
        return None
    try:
        return ExecutionStatus(status)
    except ValueError:
        allowed = ", ".join(s.value for s in ExecutionStatus)
        raise InvalidInput(f"unknown status {status!r}; one of {allowed}") from None


def get_execution(deps: ServerDeps, principal: Principal, execution_id: str) -> Execution:
    """The execution with its logs, if the principal may see its workflow."""
    try:
        execution = deps.repo.get_execution(execution_id)
        require_workflow(deps.repo, principal, execution.workflow_id, Action.READ)
    except NotFound:
        raise NotFound("execution", execution_id) from None
    return execution


def trigger_labels(deps: ServerDeps, principal: Principal, workflow_id: str) -> dict[str, str]:
    """A short description (``webhook POST /hello``, ``cron '*/5 * * * *'``) of each current
    trigger of the workflow, by trigger id; triggers removed since are absent."""
    require_workflow(deps.repo, principal, workflow_id, Action.READ)
    return {t.id: t.spec.describe() for t in deps.repo.list_triggers(workflow_id)}
