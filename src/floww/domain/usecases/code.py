"""A deployment's code bundle by digest, for a runtime that fetches the code it runs (the Lambda
entry caches it per warm container) instead of receiving it with every invocation."""

from __future__ import annotations

from floww.domain.errors import NotFound
from floww.domain.model import CodeBundle, Principal
from floww.domain.usecases.access import Action, require_workflow
from floww.domain.usecases.deps import ServerDeps

__all__ = ["deployed_code"]


def deployed_code(
    deps: ServerDeps, principal: Principal, workflow_id: str, digest: str
) -> CodeBundle:
    """The code of one of the workflow's deployments whose digest is ``digest``. Execution
    tokens reach their own workflow's code; members and API keys of its namespace too.
    ``NotFound`` for a workflow out of reach and for code no deployment of it holds."""
    require_workflow(deps.repo, principal, workflow_id, Action.CODE)
    for deployment in deps.repo.list_deployments(workflow_id):
        if deployment.code.digest == digest:
            return deployment.code
    raise NotFound("code", digest)
