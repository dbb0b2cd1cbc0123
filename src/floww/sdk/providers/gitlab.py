"""GitLab's face in user code: push, merge request and pipeline triggers; issues and merge
request notes through the REST API (v4). Rules: ``floww.domain.providers.gitlab``."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from floww.domain.errors import InvalidInput
from floww.domain.providers import gitlab as rules
from floww.sdk.declarations import check_name
from floww.sdk.providers.base import ApiProvider, json_object, names, positive, text
from floww.sdk.retry import Retry

__all__ = ["GitLab"]

H = TypeVar("H", bound=Callable[..., Any])


def _project(project: str) -> str:
    """A project path (``group/name``) or numeric id, as one URL path segment."""
    if not isinstance(project, str | int) or isinstance(project, bool) or not str(project):
        raise InvalidInput(f"project must be a path such as 'group/name' or an id, not {project!r}")
    return urllib.parse.quote(str(project), safe="")


class GitLab(ApiProvider):
    """GitLab (gitlab.com or a self-managed instance through ``api_url``)."""

    type = rules.RULES.type
    fields = rules.RULES.fields
    default_api_url = "https://gitlab.com/api/v4"
    service = "GitLab"

    def on_push(
        self, project: str, branch: str | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler on pushes to ``project`` (``group/name``; only ``branch``)."""
        input: dict[str, Any] = {"project": check_name("project", project)}
        if branch is not None:
            input["branch"] = check_name("branch", branch)
        return self._trigger("push", input, retry)

    def on_merge_request(
        self, project: str, actions: Sequence[str] | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler on merge request events of ``project`` (only ``actions``, such as
        ``["open", "merge"]``)."""
        input: dict[str, Any] = {"project": check_name("project", project)}
        if actions is not None:
            input["actions"] = names("actions", actions)
        return self._trigger("merge_request", input, retry)

    def on_pipeline(
        self, project: str, statuses: Sequence[str] | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler when a pipeline of ``project`` changes status (only ``statuses``,
        such as ``["failed"]``)."""
        input: dict[str, Any] = {"project": check_name("project", project)}
        if statuses is not None:
            input["statuses"] = names("statuses", statuses)
        return self._trigger("pipeline", input, retry)

    async def create_issue(self, project: str, title: str, description: str = "") -> dict[str, Any]:
        """Open an issue in ``project``; the created issue (``iid``, ``web_url``, ...)."""
        payload = {
            "title": check_name("title", title),
            "description": text("description", description),
        }
        path = f"/projects/{_project(project)}/issues"
        return json_object(self.service, await self._client({}).request("POST", path, payload))

    async def create_merge_request_note(
        self, project: str, merge_request_iid: int, body: str
    ) -> dict[str, Any]:
        """Comment on merge request ``merge_request_iid`` of ``project``; the created note."""
        iid = positive("merge_request_iid", merge_request_iid)
        path = f"/projects/{_project(project)}/merge_requests/{iid}/notes"
        payload = {"body": check_name("body", body)}
        return json_object(self.service, await self._client({}).request("POST", path, payload))
