"""Linear's face in user code: issue and comment triggers; creating issues and comments through
the GraphQL API. Rules: ``floww.domain.providers.linear``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from floww.domain.errors import InvalidInput, PermissionDenied
from floww.domain.providers import linear as rules
from floww.sdk.declarations import check_name
from floww.sdk.providers.base import ApiProvider, json_object, text
from floww.sdk.retry import Retry

__all__ = ["Linear"]

H = TypeVar("H", bound=Callable[..., Any])

_ACTIONS = frozenset({"create", "update", "remove"})
_CREATE_ISSUE = (
    "mutation IssueCreate($input: IssueCreateInput!) {"
    " issueCreate(input: $input) { success issue { id identifier title url } } }"
)
_CREATE_COMMENT = (
    "mutation CommentCreate($input: CommentCreateInput!) {"
    " commentCreate(input: $input) { success comment { id body url } } }"
)


def _actions(actions: Sequence[str] | None) -> dict[str, Any]:
    if actions is None:
        return {}
    if isinstance(actions, str) or not actions or not set(actions) <= _ACTIONS:
        raise InvalidInput(f"actions must be a non-empty list of {', '.join(sorted(_ACTIONS))}")
    return {"actions": list(actions)}


class Linear(ApiProvider):
    """Linear: webhook triggers and GraphQL mutations with a personal API key."""

    type = rules.RULES.type
    fields = rules.RULES.fields
    default_api_url = "https://api.linear.app"
    service = "Linear"
    token_field = "api_key"
    auth_scheme = ""  # personal API keys go in Authorization as they are

    def on_issue(
        self,
        actions: Sequence[str] | None = None,
        team_id: str | None = None,
        *,
        retry: Retry | None = None,
    ) -> Callable[[H], H]:
        """Run the handler when an issue is created, updated or removed (only ``actions``;
        only in the team ``team_id``)."""
        input = _actions(actions)
        if team_id is not None:
            input["team_id"] = check_name("team_id", team_id)
        return self._trigger("issue", input, retry)

    def on_comment(
        self, actions: Sequence[str] | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler when a comment is created, updated or removed (only ``actions``)."""
        return self._trigger("comment", _actions(actions), retry)

    async def create_issue(self, team_id: str, title: str, description: str = "") -> dict[str, Any]:
        """Create an issue in team ``team_id``; ``{"id", "identifier", "title", "url"}``."""
        variables = {
            "input": {
                "teamId": check_name("team_id", team_id),
                "title": check_name("title", title),
                "description": text("description", description),
            }
        }
        data = await self._graphql(_CREATE_ISSUE, variables)
        return json_object(self.service, (data.get("issueCreate") or {}).get("issue"))

    async def create_comment(self, issue_id: str, body: str) -> dict[str, Any]:
        """Comment on issue ``issue_id``; ``{"id", "body", "url"}``."""
        variables = {
            "input": {"issueId": check_name("issue_id", issue_id), "body": check_name("body", body)}
        }
        data = await self._graphql(_CREATE_COMMENT, variables)
        return json_object(self.service, (data.get("commentCreate") or {}).get("comment"))

    async def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer; its ``errors`` become domain errors (an
        authentication error is ``PermissionDenied``, anything else ``InvalidInput``)."""
        client = self._client({"Accept": "application/json"})
        answer = json_object(
            self.service,
            await client.request("POST", "/graphql", {"query": query, "variables": variables}),
        )
        errors = answer.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            message = str(first.get("message") or "request refused")
            code = (first.get("extensions") or {}).get("code") if isinstance(first, dict) else None
            if code in ("AUTHENTICATION_ERROR", "FORBIDDEN"):
                raise PermissionDenied(f"Linear: {message}")
            raise InvalidInput(f"Linear: {message}")
        return json_object(self.service, answer.get("data"))
