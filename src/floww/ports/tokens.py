"""PlatformTokens: the tokens floww itself issues, whatever the identity provider.

- Execution tokens are bound to one execution (or one dev session) of one workflow and
  expire; they give ``Principal(kind="execution")``. A dev session's token names its person
  (``on_behalf_of``), whose membership is checked on every use.
- Registry tokens allow pushing to one repository of one namespace and expire; they give
  ``Principal(kind="registry", scopes=("push:<repository>",))``.
- ``verify`` returns ``None`` for a token that is not a platform token at all (so a caller can
  ask the identity provider instead, see ``floww.domain.usecases.authentication``) and raises
  ``Unauthenticated`` for one that is, but is malformed, forged or expired.
- ``InvalidInput`` when an issue is asked with an empty id or a non-positive lifetime.
"""

from __future__ import annotations

from typing import Protocol

from floww.domain.model import Principal

__all__ = ["PlatformTokens"]


class PlatformTokens(Protocol):
    def issue_execution_token(
        self,
        *,
        namespace_id: str,
        workflow_id: str,
        execution_id: str,
        ttl_seconds: int,
        on_behalf_of: str | None = None,
    ) -> str: ...

    def issue_registry_token(
        self, *, namespace_id: str, repository: str, ttl_seconds: int
    ) -> str: ...

    def verify(self, token: str) -> Principal | None: ...
