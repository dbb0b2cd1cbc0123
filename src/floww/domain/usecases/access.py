"""Who may touch what. A principal sees a namespace when it is a member, or when its token is
scoped to that namespace. Objects of other namespaces are reported as not found, so that ids
of other tenants are not confirmed to exist."""

from __future__ import annotations

from floww.domain.errors import NotFound, PermissionDenied
from floww.domain.model import Namespace, Principal, Workflow
from floww.domain.oci import is_base_repository
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["authorize_registry", "may_subscribe", "require_namespace", "require_workflow"]

_FULL_ACCESS_KINDS = {"user", "api_key"}


def _may_access(repo: WorkflowRepo, principal: Principal, namespace_id: str) -> bool:
    if principal.kind == "registry":
        return False  # push tokens open the registry (``authorize_registry``) and nothing else
    if principal.namespace_id is not None:
        # API keys, execution and registry tokens are bound to one namespace.
        return principal.namespace_id == namespace_id
    return principal.kind == "user" and repo.get_member(namespace_id, principal.id) is not None


def require_namespace(
    repo: WorkflowRepo, principal: Principal, namespace_id: str, *, manage: bool = True
) -> Namespace:
    """The namespace, if the principal may use it; ``NotFound`` otherwise. Execution-scoped
    principals reach their own namespace only for what runs inside it (``manage=False``: KV)
    and never manage it (``PermissionDenied``)."""
    if not _may_access(repo, principal, namespace_id):
        raise NotFound("namespace", namespace_id)
    if manage and principal.kind not in _FULL_ACCESS_KINDS:
        raise PermissionDenied(f"a {principal.kind} token may not manage namespaces")
    return repo.get_namespace(namespace_id)


def require_workflow(
    repo: WorkflowRepo, principal: Principal, workflow_id: str, *, manage: bool = True
) -> Workflow:
    """The workflow, if the principal may use it. Execution-scoped principals reach only their
    own workflow and never manage it (``PermissionDenied``)."""
    try:
        workflow = repo.get_workflow(workflow_id)
    except NotFound:
        raise NotFound("workflow", workflow_id) from None
    if not _may_access(repo, principal, workflow.namespace_id):
        raise NotFound("workflow", workflow_id)
    if principal.workflow_id is not None and principal.workflow_id != workflow_id:
        raise NotFound("workflow", workflow_id)
    if manage and principal.kind not in _FULL_ACCESS_KINDS:
        raise PermissionDenied(f"a {principal.kind} token may not manage workflows")
    return workflow


def may_subscribe(repo: WorkflowRepo, principal: Principal, channel: str) -> bool:
    """Realtime channels: ``workflow:<id>`` is open to whoever may manage that workflow."""
    kind, _, workflow_id = channel.partition(":")
    if kind != "workflow" or not workflow_id:
        return False
    try:
        require_workflow(repo, principal, workflow_id, manage=True)
    except (NotFound, PermissionDenied):
        return False
    return True


def authorize_registry(
    repo: WorkflowRepo, principal: Principal, repository: str, action: str
) -> None:
    """Registry access: repository ``floww/<namespace id>`` belongs to that namespace. A
    registry token allows what its scopes name (``push:<repo>`` implies pull); users and API
    keys need access to the namespace. The platform's base images (``floww-base/...``) are
    pulled by any principal and pushed by none. ``PermissionDenied`` otherwise."""
    if is_base_repository(repository):
        if action == "pull":
            return
        raise PermissionDenied(f"{repository} holds the platform's base images; it is read-only")
    owner, _, namespace_id = repository.partition("/")
    if owner != "floww" or not namespace_id or "/" in namespace_id:
        raise PermissionDenied(f"repository {repository!r} is not a floww runtime repository")
    if principal.kind == "registry":
        if f"push:{repository}" in principal.scopes or f"{action}:{repository}" in principal.scopes:
            return
        raise PermissionDenied(f"this token may not {action} {repository}")
    if principal.kind not in _FULL_ACCESS_KINDS or not _may_access(repo, principal, namespace_id):
        raise PermissionDenied(f"no access to {repository}")
