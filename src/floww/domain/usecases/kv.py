"""The namespace key-value store behind ``ctx.kv`` and the API.

An execution (or API-key) token reaches its own namespace only; a user names the namespace
and must be a member. Keys of other namespaces are ``NotFound``.
"""

from __future__ import annotations

import json
from typing import Any

from floww.domain.errors import InvalidInput, NotFound, PermissionDenied
from floww.domain.model import KvItem, Principal
from floww.domain.usecases.access import Action, require_namespace
from floww.domain.usecases.deps import ServerDeps

__all__ = ["MAX_KEY_LENGTH", "kv_delete", "kv_get", "kv_list", "kv_namespace", "kv_put"]

MAX_KEY_LENGTH = 512
_KV_KINDS = {"user", "api_key", "execution"}


def kv_namespace(deps: ServerDeps, principal: Principal, requested: str | None) -> str:
    """The namespace a KV call works on. ``InvalidInput`` when a user names none,
    ``PermissionDenied`` for tokens that are not for KV (registry tokens), ``NotFound`` for a
    namespace out of reach."""
    if principal.kind not in _KV_KINDS:
        raise PermissionDenied(f"a {principal.kind} token may not use the KV store")
    namespace_id = requested or principal.namespace_id
    if namespace_id is None:
        raise InvalidInput("name the namespace: ?namespace=<namespace id>", field="namespace")
    require_namespace(deps.repo, principal, namespace_id, Action.KV)
    return namespace_id


def _key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"a KV key must be 1 to {MAX_KEY_LENGTH} characters", field="key")
    return key


def kv_get(deps: ServerDeps, principal: Principal, namespace: str | None, key: str) -> KvItem:
    namespace_id = kv_namespace(deps, principal, namespace)
    try:
        return deps.repo.kv_get(namespace_id, _key(key))
    except NotFound:
        raise NotFound("kv key", key) from None


def kv_put(
    deps: ServerDeps, principal: Principal, namespace: str | None, key: str, value: Any
) -> KvItem:
    """``InvalidInput`` for a value JSON cannot carry."""
    namespace_id = kv_namespace(deps, principal, namespace)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput("a KV value must be JSON", field="value") from None
    return deps.repo.kv_put(namespace_id, _key(key), value, deps.clock.now())


def kv_delete(deps: ServerDeps, principal: Principal, namespace: str | None, key: str) -> None:
    """``NotFound`` when the key is absent."""
    namespace_id = kv_namespace(deps, principal, namespace)
    try:
        deps.repo.kv_delete(namespace_id, _key(key))
    except NotFound:
        raise NotFound("kv key", key) from None


def kv_list(
    deps: ServerDeps, principal: Principal, namespace: str | None, prefix: str = ""
) -> list[KvItem]:
    """Items whose key starts with ``prefix``, sorted by key."""
    namespace_id = kv_namespace(deps, principal, namespace)
    return sorted(deps.repo.kv_list(namespace_id, prefix), key=lambda item: item.key)
