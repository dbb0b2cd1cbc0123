"""A dev session answering an event through the API: the caller must see the execution's
workflow, and the reply must carry the execution token that came with the event."""

from __future__ import annotations

from floww.domain.model import InvocationResult, Principal
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.queries import get_execution
from floww.domain.usecases.webhooks import submit_dev_reply

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
    ``Unauthenticated`` for a token of another event, ``Conflict`` when answered already."""
    get_execution(deps, principal, execution_id)
    submit_dev_reply(deps, execution_id=execution_id, token=token, result=result)
