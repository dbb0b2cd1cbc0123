"""Todoist's face in user code: task and comment triggers; creating and closing tasks through
the REST API. Rules: ``floww.domain.providers.todoist``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from floww.domain.errors import InvalidInput
from floww.domain.providers import todoist as rules
from floww.sdk.declarations import check_name
from floww.sdk.providers.base import ApiProvider, json_object, segment
from floww.sdk.retry import Retry

__all__ = ["Todoist"]

H = TypeVar("H", bound=Callable[..., Any])


def _events(events: Sequence[str] | None) -> dict[str, Any]:
    if events is None:
        return {}
    if isinstance(events, str) or not events:
        raise InvalidInput("events must be a non-empty list such as ['added', 'completed']")
    return {"events": [check_name("event", e) for e in events]}


class Todoist(ApiProvider):
    """Todoist: app webhooks and the REST API with an API token."""

    type = rules.RULES.type
    fields = rules.RULES.fields
    default_api_url = "https://api.todoist.com/rest/v2"
    service = "Todoist"
    token_field = "api_token"

    def on_task(
        self,
        events: Sequence[str] | None = None,
        project_id: str | None = None,
        *,
        retry: Retry | None = None,
    ) -> Callable[[H], H]:
        """Run the handler on ``item:*`` events (only ``events`` such as ``["added",
        "completed"]``; only in ``project_id``)."""
        input = _events(events)
        if project_id is not None:
            input["project_id"] = check_name("project_id", project_id)
        return self._trigger("item", input, retry)

    def on_comment(
        self, events: Sequence[str] | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler on ``note:*`` events (comments)."""
        return self._trigger("note", _events(events), retry)

    async def create_task(
        self, content: str, project_id: str | None = None, due_string: str | None = None
    ) -> dict[str, Any]:
        """Add a task; the created task (``id``, ``url``, ...)."""
        payload: dict[str, Any] = {"content": check_name("content", content)}
        if project_id is not None:
            payload["project_id"] = check_name("project_id", project_id)
        if due_string is not None:
            payload["due_string"] = check_name("due_string", due_string)
        return json_object(self.service, await self._client({}).request("POST", "/tasks", payload))

    async def close_task(self, task_id: str) -> None:
        """Complete task ``task_id``."""
        await self._client({}).request("POST", f"/tasks/{segment('task_id', task_id)}/close")
