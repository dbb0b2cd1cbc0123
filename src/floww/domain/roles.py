"""The one rule table of who may do what in a namespace.

A namespace member has a role; an API key has a scope chosen when it was made; the platform's
own tokens have a kind. Each names a set of actions, and a caller may do an action when every
part of it allows it (an API key: its scope *and* its owner's current role):

=============== ====== ===== ====== ======= ======
role / scope    read   run   deploy secrets manage
=============== ====== ===== ====== ======= ======
owner           yes    yes   yes    yes     yes
developer       yes    yes   yes
viewer          yes
key ``full``    yes    yes   yes    yes     yes
key ``deploy``  yes    yes   yes
key ``read``    yes
=============== ====== ===== ====== ======= ======

- ``read``: the namespace, its workflows, deployments, executions and (redacted) providers;
  ``code`` (a deployment's code bundle) goes with it.
- ``run``: manual runs, dev sessions and dev tokens, the KV store.
- ``deploy``: workflows, runtimes, registry credentials, deployments and their history.
- ``secrets``: provider configs in plain text.
- ``manage``: members, providers, and API keys with the ``full`` scope.

An execution token (and a dev token, which is one) reaches what one run needs: the KV store of
its namespace (``kv``) and the code of its own workflow's deployments (``code``), nothing else
here; a registry push token reaches nothing here (the registry has
its own rule, ``access.authorize_registry``).
"""

from __future__ import annotations

import enum

__all__ = [
    "API_KEY_SCOPES",
    "DEFAULT_API_KEY_SCOPE",
    "EXECUTION_ACTIONS",
    "ROLES",
    "Action",
    "role_allows",
    "scope_allows",
]


class Action(enum.Enum):
    READ = "read"
    RUN = "run"
    DEPLOY = "deploy"
    SECRETS = "secrets"
    MANAGE = "manage"
    KV = "kv"
    CODE = "code"


_EVERYTHING = frozenset(Action)
_DEVELOPER = frozenset({Action.READ, Action.CODE, Action.RUN, Action.DEPLOY, Action.KV})
_VIEWER = frozenset({Action.READ, Action.CODE})

_ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "owner": _EVERYTHING,
    "developer": _DEVELOPER,
    "viewer": _VIEWER,
}
_SCOPE_ACTIONS: dict[str, frozenset[Action]] = {
    "full": _EVERYTHING,
    "deploy": _DEVELOPER,
    "read": _VIEWER,
}

ROLES = tuple(_ROLE_ACTIONS)
# What an execution (or dev) token may do, in its own namespace and workflow only.
EXECUTION_ACTIONS = frozenset({Action.KV, Action.CODE})
API_KEY_SCOPES = tuple(_SCOPE_ACTIONS)
# Keys made before scopes existed, and keys made without naming one, may deploy: what CI needs.
DEFAULT_API_KEY_SCOPE = "deploy"


def role_allows(role: str, action: Action) -> bool:
    """Whether a member of ``role`` may do ``action``; an unknown role allows nothing."""
    return action in _ROLE_ACTIONS.get(role, frozenset())


def scope_allows(scope: str, action: Action) -> bool:
    """Whether an API key of ``scope`` may do ``action``; an unknown scope allows nothing."""
    return action in _SCOPE_ACTIONS.get(scope, frozenset())
