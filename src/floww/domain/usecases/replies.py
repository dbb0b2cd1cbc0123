"""A dev session answering an event through the API: the caller must see the execution's
workflow, and the reply must carry the execution token that came with the event."""

from __future__ import annotations

from floww.domain.errors import NotFound, Unauthenticated
from floww.domain.model import InvocationResult, Principal
from floww.domain.roles import Action
from floww.domain.usecases.access import require_workflow
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.queries import get_execution
from floww.domain.usecases.webhooks import deliver_dev_reply

__all__ = ["reply_to_event"]


def reply_to_event(
    deps: ServerDeps,
    principal: Principal,
    *,
    execution_id: str,
    token: str,
    result: InvocationResult,
) -> None:
    """``NotFound`` for an execution out of reach or nobody waiting any more,
    ``Unauthenticated`` for a token of another event, ``Conflict`` when answered already.

    The execution token names the event's workflow, so the caller's reach is checked on that
    workflow without reading the execution (this is on every dev round trip)."""
    try:
        claimed = deps.tokens.verify(token)
    except Unauthenticated:
        claimed = None
    if claimed is None or claimed.execution_id != execution_id or claimed.workflow_id is None:
        get_execution(deps, principal, execution_id)  # out of reach: NotFound, as before
        raise Unauthenticated("the reply token does not belong to this event")
    try:
        require_workflow(deps.repo, principal, claimed.workflow_id, Action.READ)
    except NotFound:
        raise NotFound("execution", execution_id) from None
    deliver_dev_reply(deps, claimed, execution_id=execution_id, result=result)
