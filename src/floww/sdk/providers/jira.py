"""Jira Cloud's face in user code: issue triggers; creating issues and adding comments through
the REST API (v3, basic auth with an account email and API token). Rules:
``floww.domain.providers.jira``."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from floww.domain.errors import InvalidInput
from floww.domain.providers import jira as rules
from floww.sdk.declarations import check_name
from floww.sdk.http import JsonClient
from floww.sdk.providers.base import ApiProvider, json_object, segment, text
from floww.sdk.retry import Retry

__all__ = ["Jira"]

H = TypeVar("H", bound=Callable[..., Any])

_EVENTS = frozenset({"created", "updated", "deleted"})


def _document(body: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document (one paragraph per line)."""
    lines = text("body", body).splitlines() or [""]
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
            for line in lines
        ],
    }


class Jira(ApiProvider):
    """Jira Cloud: issue webhooks (with a secret) and the REST API."""

    type = rules.RULES.type
    fields = rules.RULES.fields
    service = "Jira"
    token_field = "api_token"

    def on_issue(
        self,
        events: Sequence[str] | None = None,
        project: str | None = None,
        *,
        retry: Retry | None = None,
    ) -> Callable[[H], H]:
        """Run the handler when an issue is ``created``, ``updated`` or ``deleted`` (only
        ``events``; only in the project with key ``project``)."""
        input: dict[str, Any] = {}
        if events is not None:
            if isinstance(events, str) or not events or not set(events) <= _EVENTS:
                raise InvalidInput(f"events must be a non-empty list of {sorted(_EVENTS)}")
            input["events"] = list(events)
        if project is not None:
            input["project"] = check_name("project", project)
        return self._trigger("issue", input, retry)

    async def create_issue(
        self, project: str, summary: str, description: str = "", issue_type: str = "Task"
    ) -> dict[str, Any]:
        """Create an issue; Jira's answer (``id``, ``key``, ``self``)."""
        fields: dict[str, Any] = {
            "project": {"key": check_name("project", project)},
            "summary": check_name("summary", summary),
            "issuetype": {"name": check_name("issue_type", issue_type)},
        }
        if description:
            fields["description"] = _document(description)
        answer = await self._jira().request("POST", "/issue", {"fields": fields})
        return json_object(self.service, answer)

    async def add_comment(self, issue_key: str, body: str) -> dict[str, Any]:
        """Comment on issue ``issue_key`` (``ABC-123``); the created comment."""
        path = f"/issue/{segment('issue_key', issue_key)}/comment"
        answer = await self._jira().request("POST", path, {"body": _document(body)})
        return json_object(self.service, answer)

    def _jira(self) -> JsonClient:
        config: Mapping[str, str] = self.config
        site, email, token = (config.get(k, "") for k in ("site_url", "email", "api_token"))
        if not (site and email and token):
            raise InvalidInput(f"provider {self.ref.key} needs site_url, email and api_token")
        basic = base64.b64encode(f"{email}:{token}".encode()).decode()
        return JsonClient(
            self.service,
            site.rstrip("/") + "/rest/api/3",
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            transport=self._transport,
        )
