"""GitHub's face in user code: push, pull request and issue triggers; issues and comments
through the REST API (v3). Its rules (signature, filters, body limit) are
``floww.domain.providers.github``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from floww.domain.providers import github as rules
from floww.sdk.declarations import check_name
from floww.sdk.http import JsonClient
from floww.sdk.providers.base import ApiProvider, json_object, names, positive, segment, text
from floww.sdk.retry import Retry

__all__ = ["GitHub"]

H = TypeVar("H", bound=Callable[..., Any])


class GitHub(ApiProvider):
    """GitHub: repository triggers, and issues and comments through the REST API (v3)."""

    type = rules.RULES.type
    fields = rules.RULES.fields
    default_api_url = "https://api.github.com"
    service = "GitHub"

    def on_push(
        self, owner: str, repository: str, branch: str | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler on every push to ``owner/repository`` (only ``branch`` if given)."""
        input: dict[str, Any] = self._repository(owner, repository)
        if branch is not None:
            input["branch"] = check_name("branch", branch)
        return self._trigger("push", input, retry)

    def on_pull_request(
        self,
        owner: str,
        repository: str,
        actions: Sequence[str] | None = None,
        *,
        retry: Retry | None = None,
    ) -> Callable[[H], H]:
        """Run the handler on pull request events of ``owner/repository`` (only those whose
        ``action`` is in ``actions``, such as ``["opened", "closed"]``, if given)."""
        return self._with_actions("pull_request", owner, repository, actions, retry)

    def on_issues(
        self,
        owner: str,
        repository: str,
        actions: Sequence[str] | None = None,
        *,
        retry: Retry | None = None,
    ) -> Callable[[H], H]:
        """Run the handler on issue events of ``owner/repository`` (only ``actions``)."""
        return self._with_actions("issues", owner, repository, actions, retry)

    async def create_issue(
        self, owner: str, repository: str, title: str, body: str = ""
    ) -> dict[str, Any]:
        """Open an issue in ``owner/repository``; the created issue as GitHub returns it
        (``number``, ``html_url``, ...). Errors: see ``floww.sdk.http``."""
        path = _repo_path(owner, repository) + "/issues"
        payload = {"title": check_name("title", title), "body": text("body", body)}
        return json_object(self.service, await self._github().request("POST", path, payload))

    async def create_comment(
        self, owner: str, repository: str, issue_number: int, body: str
    ) -> dict[str, Any]:
        """Comment on issue (or pull request) ``issue_number``; the created comment as GitHub
        returns it. Errors: see ``floww.sdk.http``."""
        number = positive("issue_number", issue_number)
        path = f"{_repo_path(owner, repository)}/issues/{number}/comments"
        payload = {"body": check_name("body", body)}
        return json_object(self.service, await self._github().request("POST", path, payload))

    def _with_actions(
        self,
        kind: str,
        owner: str,
        repository: str,
        actions: Sequence[str] | None,
        retry: Retry | None,
    ) -> Callable[[H], H]:
        input = self._repository(owner, repository)
        if actions is not None:
            input["actions"] = names("actions", actions)
        return self._trigger(kind, input, retry)

    @staticmethod
    def _repository(owner: str, repository: str) -> dict[str, Any]:
        return {
            "owner": check_name("owner", owner),
            "repository": check_name("repository", repository),
        }

    def _github(self) -> JsonClient:
        return self._client(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "floww",
            }
        )


def _repo_path(owner: str, repository: str) -> str:
    return f"/repos/{segment('owner', owner)}/{segment('repository', repository)}"
