"""API keys for CI: a signed-in user makes a key for one namespace they may use, with a scope
(``full``, ``deploy`` or ``read``; see ``floww.domain.roles``), lists the keys of that namespace,
and revokes them. A key's scope may not exceed its maker's role: ``deploy`` needs a role that
deploys, ``full`` an owner. A key keeps working only while its owner keeps that role.

These use cases are the one place that decides who may manage keys at all (users only:
``PermissionDenied`` for an API key, an execution or a registry token) and the namespace rules;
the ``ApiKeys`` adapters only keep the keys. A
namespace the caller may not use is ``NotFound``, as everywhere, so other tenants' ids are not
confirmed; a key of another namespace, or of another user, is ``NotFound`` too. A server whose
identity provider manages no keys (``ServerDeps.api_keys`` is ``None``) answers ``Unavailable``.
"""

from __future__ import annotations

from floww.domain.errors import InvalidInput, NotFound, PermissionDenied, Unavailable
from floww.domain.model import ApiKey, Principal
from floww.domain.roles import API_KEY_SCOPES, DEFAULT_API_KEY_SCOPE
from floww.domain.usecases.access import Action, require_namespace
from floww.domain.usecases.deps import ServerDeps
from floww.ports.api_keys import ApiKeys

__all__ = ["MAX_NAME_LENGTH", "create_api_key", "list_api_keys", "revoke_api_key"]

MAX_NAME_LENGTH = 100


def _require_user(principal: Principal) -> None:
    if principal.kind != "user":
        raise PermissionDenied(
            "API keys are managed by a signed-in user, not with an API key or a workflow token"
        )


def _keys(deps: ServerDeps) -> ApiKeys:
    if deps.api_keys is None:
        raise Unavailable(
            "this server does not manage API keys (its auth provider has none); "
            "use a `floww login` session instead"
        )
    return deps.api_keys


_SCOPE_NEEDS = {"full": Action.MANAGE, "deploy": Action.DEPLOY, "read": Action.READ}


def create_api_key(
    deps: ServerDeps,
    principal: Principal,
    namespace_id: str,
    name: str,
    scope: str = DEFAULT_API_KEY_SCOPE,
) -> tuple[str, ApiKey]:
    """A new key of the caller for ``namespace_id``: its plain text (to be shown once) and its
    info. ``NotFound`` when the caller may not use the namespace, ``PermissionDenied`` when the
    caller is not a user or its role is narrower than the scope, ``InvalidInput`` for an
    unknown scope, an empty name or one over 100 characters."""
    keys = _keys(deps)
    if scope not in API_KEY_SCOPES:
        raise InvalidInput(
            f"unknown API key scope {scope!r}; one of {', '.join(API_KEY_SCOPES)}", field="scope"
        )
    require_namespace(deps.repo, principal, namespace_id, _SCOPE_NEEDS[scope])
    _require_user(principal)
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned:
        raise InvalidInput("an API key needs a name, such as 'github-actions'", field="name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"an API key name has at most {MAX_NAME_LENGTH} characters", field="name"
        )
    return keys.create_api_key(principal, namespace_id, cleaned, scope)


def list_api_keys(deps: ServerDeps, principal: Principal, namespace_id: str) -> list[ApiKey]:
    """The caller's keys for ``namespace_id``, oldest first. ``NotFound`` / ``PermissionDenied``
    as for ``create_api_key``."""
    keys = _keys(deps)
    require_namespace(deps.repo, principal, namespace_id, Action.READ)
    _require_user(principal)
    return [key for key in keys.list_api_keys(principal) if key.namespace_id == namespace_id]


def revoke_api_key(deps: ServerDeps, principal: Principal, namespace_id: str, key_id: str) -> None:
    """Revoke one of the caller's keys of ``namespace_id``; it stops working at once.
    ``NotFound`` for an unknown key, one of another namespace or another user; otherwise as for
    ``create_api_key``."""
    keys = _keys(deps)
    require_namespace(deps.repo, principal, namespace_id, Action.READ)
    _require_user(principal)
    mine = keys.list_api_keys(principal)
    if not any(key.id == key_id and key.namespace_id == namespace_id for key in mine):
        raise NotFound("API key", key_id)
    keys.revoke_api_key(principal, key_id)
