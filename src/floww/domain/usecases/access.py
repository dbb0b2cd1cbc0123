"""Who may touch what: every route's check is one call here, and every answer comes from the
rule table in ``floww.domain.roles``.

- A user reaches a namespace as a member; their role says what they may do in it.
- An API key is bound to one namespace; it may do what its scope allows *and* what its owner's
  current role allows (a key outlives no membership: remove the member and their keys stop).
- An execution token (and a dev token) reaches the KV store of its own namespace and the code
  of its own workflow (``roles.EXECUTION_ACTIONS``); a registry push token reaches no API
  object at all.

A namespace (or an object in one) the caller cannot reach is ``NotFound``, so ids of other
tenants are not confirmed to exist; a namespace the caller reaches but whose rule refuses the
action is ``PermissionDenied``, with a sentence naming the role or scope that is missing.
"""

from __future__ import annotations

from floww.domain.errors import NotFound, PermissionDenied
from floww.domain.model import Namespace, Principal, Workflow
from floww.domain.oci import is_base_repository
from floww.domain.roles import (
    DEFAULT_API_KEY_SCOPE,
    EXECUTION_ACTIONS,
    Action,
    role_allows,
    scope_allows,
)
from floww.ports.workflow_repo import WorkflowRepo

__all__ = [
    "Action",
    "allows",
    "api_key_scope",
    "authorize_registry",
    "may_subscribe",
    "require_api_caller",
    "require_namespace",
    "require_workflow",
]

_PEOPLE = {"user", "api_key"}


def api_key_scope(principal: Principal) -> str:
    """The scope of an API key principal (``full``, ``deploy`` or ``read``)."""
    return principal.scopes[0] if principal.scopes else DEFAULT_API_KEY_SCOPE


def require_api_caller(principal: Principal) -> None:
    """The API beyond ``/v2/`` is for people, API keys and running code; ``PermissionDenied``
    for a registry push token."""
    if principal.kind not in (*_PEOPLE, "execution"):
        raise PermissionDenied(f"a {principal.kind} token opens the registry only")


def _role(repo: WorkflowRepo, principal: Principal, namespace_id: str) -> str | None:
    """The caller's role in the namespace, ``None`` when it cannot reach it at all."""
    if principal.kind not in _PEOPLE:
        return None
    if principal.kind == "api_key" and principal.namespace_id != namespace_id:
        return None
    member = repo.get_member(namespace_id, principal.id)
    return None if member is None else member.role


def _check(repo: WorkflowRepo, principal: Principal, namespace_id: str, action: Action) -> None:
    if principal.kind == "execution":
        if principal.namespace_id != namespace_id:
            raise NotFound("namespace", namespace_id)
        if action not in EXECUTION_ACTIONS:
            raise PermissionDenied(
                "an execution token reaches its namespace's KV store and its workflow's code "
                f"only, not {action.value}"
            )
        if principal.on_behalf_of is not None:
            member = repo.get_member(namespace_id, principal.on_behalf_of)
            if member is None or not role_allows(member.role, Action.RUN):
                raise PermissionDenied(
                    "this dev session's person may no longer run code in this namespace; "
                    "ask an owner for a developer role and start `floww dev` again"
                )
        return
    role = _role(repo, principal, namespace_id)
    if role is None:
        raise NotFound("namespace", namespace_id)
    if not role_allows(role, action):
        raise PermissionDenied(
            f"your role in this namespace is {role}, which may not {action.value}; "
            "ask an owner of the namespace for another role",
            role=role,
            action=action.value,
        )
    if principal.kind == "api_key" and not scope_allows(api_key_scope(principal), action):
        scope = api_key_scope(principal)
        raise PermissionDenied(
            f"this API key has the {scope} scope, which may not {action.value}; "
            "create a key with a wider scope",
            scope=scope,
            action=action.value,
        )


def require_namespace(
    repo: WorkflowRepo, principal: Principal, namespace_id: str, action: Action
) -> Namespace:
    """The namespace, if the principal may do ``action`` in it; ``NotFound`` when it cannot
    reach it, ``PermissionDenied`` when its role, scope or kind does not allow the action."""
    _check(repo, principal, namespace_id, action)
    return repo.get_namespace(namespace_id)


def allows(repo: WorkflowRepo, principal: Principal, namespace_id: str, action: Action) -> bool:
    """Whether the principal may do ``action`` in the namespace (no error either way)."""
    try:
        _check(repo, principal, namespace_id, action)
    except (NotFound, PermissionDenied):
        return False
    return True


def require_workflow(
    repo: WorkflowRepo, principal: Principal, workflow_id: str, action: Action
) -> Workflow:
    """The workflow, if the principal may do ``action`` in its namespace; otherwise as
    ``require_namespace`` (an unreachable workflow is ``NotFound``)."""
    try:
        workflow = repo.get_workflow(workflow_id)
    except NotFound:
        raise NotFound("workflow", workflow_id) from None
    if principal.workflow_id is not None and principal.workflow_id != workflow_id:
        raise NotFound("workflow", workflow_id)
    try:
        _check(repo, principal, workflow.namespace_id, action)
    except NotFound:
        raise NotFound("workflow", workflow_id) from None
    return workflow


def may_subscribe(repo: WorkflowRepo, principal: Principal, channel: str) -> bool:
    """Realtime channels: ``workflow:<id>`` is open to whoever may read that workflow."""
    kind, _, workflow_id = channel.partition(":")
    if kind != "workflow" or not workflow_id:
        return False
    try:
        require_workflow(repo, principal, workflow_id, Action.READ)
    except (NotFound, PermissionDenied):
        return False
    return True


def authorize_registry(
    repo: WorkflowRepo, principal: Principal, repository: str, action: str
) -> None:
    """Registry access: repository ``floww/<namespace id>`` belongs to that namespace. A
    registry token allows what its scopes name (``push:<repo>`` implies pull) on that one
    repository; users and API keys need ``deploy`` to push and ``read`` to pull. The
    platform's base images (``floww-base/...``) are pulled by any principal (image layers are
    mounted from them) and pushed by none. ``PermissionDenied`` otherwise."""
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
    if principal.kind not in _PEOPLE:
        raise PermissionDenied(f"no access to {repository}")
    wanted = Action.READ if action == "pull" else Action.DEPLOY
    try:
        _check(repo, principal, namespace_id, wanted)
    except NotFound:
        raise PermissionDenied(f"no access to {repository}") from None
