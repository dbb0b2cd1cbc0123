"""Namespaces and workflows."""

from __future__ import annotations

import re

from floww.domain.errors import InvalidInput, PermissionDenied
from floww.domain.model import Member, Namespace, Principal, Workflow
from floww.domain.usecases.access import Action, require_namespace, require_workflow
from floww.domain.usecases.deps import ServerDeps

__all__ = [
    "create_namespace",
    "create_workflow",
    "delete_workflow",
    "list_namespaces",
    "list_workflows",
    "validate_name",
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def validate_name(kind: str, name: object) -> str:
    """Names are 1-63 lower-case letters, digits, ``.``, ``_`` or ``-``, starting with a letter
    or digit; ``InvalidInput`` otherwise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"{kind} name {name!r} must be 1-63 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def create_namespace(deps: ServerDeps, principal: Principal, name: str) -> Namespace:
    """A new namespace owned by the calling user; ``Conflict`` when the name is taken."""
    if principal.kind != "user":
        raise InvalidInput("only a user can create namespaces")
    namespace = Namespace(
        id=deps.ids.new_id("ns"), name=validate_name("namespace", name), created_at=deps.clock.now()
    )
    deps.repo.create_namespace(namespace)
    deps.repo.add_member(Member(namespace.id, principal.id, "owner"))
    return namespace


def list_namespaces(deps: ServerDeps, principal: Principal) -> list[Namespace]:
    """The namespaces a user is a member of, or an API key's one namespace.
    ``PermissionDenied`` for the platform's own tokens (execution, dev, registry)."""
    if principal.kind not in ("user", "api_key"):
        raise PermissionDenied(f"a {principal.kind} token may not list namespaces")
    if principal.namespace_id is not None:
        return [deps.repo.get_namespace(principal.namespace_id)]
    return deps.repo.list_namespaces(principal.id)


def create_workflow(
    deps: ServerDeps, principal: Principal, namespace_id: str, name: str
) -> Workflow:
    """``Conflict`` when the namespace has a workflow of that name."""
    require_namespace(deps.repo, principal, namespace_id, Action.DEPLOY)
    workflow = Workflow(
        id=deps.ids.new_id("wf"),
        namespace_id=namespace_id,
        name=validate_name("workflow", name),
        created_at=deps.clock.now(),
    )
    deps.repo.create_workflow(workflow)
    return workflow


def list_workflows(deps: ServerDeps, principal: Principal, namespace_id: str) -> list[Workflow]:
    require_namespace(deps.repo, principal, namespace_id, Action.READ)
    return deps.repo.list_workflows(namespace_id)


def delete_workflow(deps: ServerDeps, principal: Principal, workflow_id: str) -> None:
    """Delete a workflow with its triggers, webhooks, deployments, executions and dev
    sessions, and free the runtimes no other workflow deploys on. ``NotFound`` when the
    workflow is not the caller's."""
    workflow = require_workflow(deps.repo, principal, workflow_id, Action.DEPLOY)
    for lease in deps.dev_sessions.live(workflow.id, deps.clock.now()):
        deps.dev_sessions.remove(workflow.id, lease.session_id)
    for runtime in deps.repo.delete_workflow(workflow.id):
        deps.host.destroy_runtime(runtime)
