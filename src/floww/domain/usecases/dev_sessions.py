"""Dev sessions keyed by session, each with a lease (ARCHITECTURE §5, §8).

Several ``floww dev`` sessions may run one workflow at once. Every session sees every event
(they all subscribe to ``workflow:<id>``), and exactly one answers it: the **most recently
connected live session**, the *answerer*, named in each dev event. The workflow's stored dev
triggers are always the answerer's, so the server routes exactly what the answering code
declares.

A session holds a lease of ``ServerSettings.dev_lease_s`` seconds that its client renews
while it runs. Stopping a session removes only that session; a session whose client died
without saying so is dropped when its lease lapses. Either way the next most recently
connected live session becomes the answerer and its triggers are routed; with none left, the
dev triggers go.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from floww.domain.errors import InvalidInput
from floww.domain.model import Principal, Trigger, TriggerSource, TriggerSpec
from floww.domain.triggers import webhook_endpoints, webhooks_for
from floww.domain.usecases.access import Action, require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.triggers import check_trigger_set, sync_triggers
from floww.ports.dev_sessions import DevSessionLease

__all__ = [
    "DEFAULT_SESSION",
    "close_dev_session",
    "dev_answerer",
    "open_dev_session",
    "renew_dev_session",
]

DEFAULT_SESSION = "default"
"""The session of a client that names none (one session per workflow, as before)."""

_SESSION_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        raise InvalidInput(
            "a dev session id is 1 to 64 letters, digits, '.', '_' or '-'", field="session_id"
        )
    return session_id


def open_dev_session(
    deps: ServerDeps,
    principal: Principal,
    workflow_id: str,
    specs: Sequence[TriggerSpec],
    session_id: str = DEFAULT_SESSION,
) -> tuple[str, ...]:
    """Register (or update) a session with the triggers its code declares and a fresh lease;
    returns the webhook URLs of those triggers. ``InvalidInput`` for colliding webhooks or a
    malformed session id."""
    require_workflow(deps.repo, principal, workflow_id, Action.RUN)
    _check_session_id(session_id)
    check_trigger_set(workflow_id, specs)
    now = deps.clock.now()
    deps.dev_sessions.put(
        DevSessionLease(
            workflow_id=workflow_id,
            session_id=session_id,
            specs=tuple(specs),
            connected_at=now,
            expires_at=now + timedelta(seconds=deps.settings.dev_lease_s),
        )
    )
    _route_answerer(deps, workflow_id)
    base = deps.settings.base_url
    probes = [Trigger(id=f"probe{i}", workflow_id=workflow_id, spec=s) for i, s in enumerate(specs)]
    hooks = [h for t in probes for h in webhooks_for(t)]
    # One line per URL: the triggers of a provider alias share theirs.
    return tuple(e.line for e in webhook_endpoints(base, hooks, {t.id: t.spec for t in probes}))


def renew_dev_session(
    deps: ServerDeps, principal: Principal, workflow_id: str, session_id: str
) -> None:
    """Extend the session's lease. ``NotFound`` when the session is not registered (stopped,
    or dropped after its lease lapsed): its client registers again."""
    require_workflow(deps.repo, principal, workflow_id, Action.RUN)
    _check_session_id(session_id)
    expires_at = deps.clock.now() + timedelta(seconds=deps.settings.dev_lease_s)
    deps.dev_sessions.renew(workflow_id, session_id, expires_at)
    _route_answerer(deps, workflow_id)


def close_dev_session(
    deps: ServerDeps, principal: Principal, workflow_id: str, session_id: str = DEFAULT_SESSION
) -> None:
    """Remove one session; the other sessions of the workflow keep their triggers."""
    require_workflow(deps.repo, principal, workflow_id, Action.RUN)
    _check_session_id(session_id)
    deps.dev_sessions.remove(workflow_id, session_id)
    _route_answerer(deps, workflow_id)


def dev_answerer(deps: ServerDeps, workflow_id: str) -> DevSessionLease | None:
    """The live session that answers the workflow's dev events, or ``None``."""
    live = deps.dev_sessions.live(workflow_id, deps.clock.now())
    return live[0] if live else None


def _route_answerer(deps: ServerDeps, workflow_id: str) -> None:
    """Make the stored dev triggers the answerer's (none without one); a no-op when they are
    already, so renewing a lease rewrites nothing."""
    answerer = dev_answerer(deps, workflow_id)
    wanted = answerer.specs if answerer is not None else ()
    stored = deps.repo.list_triggers(workflow_id, TriggerSource.DEV)
    if [t.spec.identity for t in stored] == [s.identity for s in wanted]:
        return
    sync_triggers(
        deps.repo, deps.ids, workflow_id=workflow_id, source=TriggerSource.DEV, specs=wanted
    )
