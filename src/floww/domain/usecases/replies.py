"""A dev session answering an event: the caller must see the execution's workflow, and the
reply must carry the execution token that came with the event.

Two ways in: the HTTP API (``reply_to_event``: the caller authenticated on the request) and the
session's own realtime connection (the same function with a ``ReachCache``: the caller
authenticated when it connected, and its reach on a workflow, once checked, is trusted for
``REACH_TTL_S`` seconds on that connection, so a removed member's replies stop within that
time)."""

from __future__ import annotations

import attrs

from floww.domain.errors import NotFound, Unauthenticated
from floww.domain.model import InvocationResult, Principal
from floww.domain.roles import Action
from floww.domain.usecases.access import require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.queries import get_execution
from floww.domain.usecases.webhooks import deliver_dev_reply

__all__ = ["REACH_TTL_S", "ReachCache", "reply_to_event"]

REACH_TTL_S = 5.0
_MAX_WORKFLOWS = 64


@attrs.define
class ReachCache:
    """The workflows one connection's caller was found to reach (``Action.READ``), each
    trusted until ``ttl_s`` seconds after its check. One per connection: it never outlives
    the principal it was checked for."""

    ttl_s: float = REACH_TTL_S
    _until: dict[str, float] = attrs.field(factory=dict, init=False)

    def require(self, deps: ServerDeps, principal: Principal, workflow_id: str) -> None:
        """``require_workflow`` unless it passed for this workflow less than ``ttl_s`` ago."""
        now = deps.clock.monotonic()
        if self._until.get(workflow_id, -1.0) > now:
            return
        require_workflow(deps.repo, principal, workflow_id, Action.READ)
        if len(self._until) >= _MAX_WORKFLOWS:
            self._until.clear()
        self._until[workflow_id] = now + self.ttl_s


def reply_to_event(
    deps: ServerDeps,
    principal: Principal,
    *,
    execution_id: str,
    token: str,
    result: InvocationResult,
    reach: ReachCache | None = None,
) -> None:
    """``NotFound`` for an execution out of reach or nobody waiting any more,
    ``Unauthenticated`` for a token of another event, ``Conflict`` when answered already.

    The execution token names the event's workflow, so the caller's reach is checked on that
    workflow without reading the execution (this is on every dev round trip); with ``reach``,
    through that connection's cache."""
    try:
        claimed = deps.tokens.verify(token)
    except Unauthenticated:
        claimed = None
    if claimed is None or claimed.execution_id != execution_id or claimed.workflow_id is None:
        get_execution(deps, principal, execution_id)  # out of reach: NotFound, as before
        raise Unauthenticated("the reply token does not belong to this event")
    try:
        if reach is None:
            require_workflow(deps.repo, principal, claimed.workflow_id, Action.READ)
        else:
            reach.require(deps, principal, claimed.workflow_id)
    except NotFound:
        raise NotFound("execution", execution_id) from None
    deliver_dev_reply(deps, claimed, execution_id=execution_id, result=result)
