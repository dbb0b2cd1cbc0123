"""``ProviderHooks`` over the providers' REST APIs: GitHub and GitLab here, Stripe and
Linear in ``floww.adapters.provider_hooks.stripe`` and ``.linear``.

GitHub repository webhooks (https://docs.github.com/rest/repos/webhooks):
``GET /repos/{owner}/{repo}/hooks`` lists them (the one whose ``config.url`` is the workflow's
URL is ours), ``POST`` creates one (``name: web``, ``events``, ``config.url``,
``config.content_type: json``, ``config.secret``: the provider's ``webhook_secret``; 201),
``PATCH /hooks/{id}`` updates its events (200) and ``DELETE /hooks/{id}`` removes it (204). The
token goes as ``Authorization: Bearer``; ``api_url`` in the provider's settings replaces
``https://api.github.com`` (GitHub Enterprise Server). GitHub answers 404 for a repository the
token cannot administer as well as for one that does not exist, 403 for a token without the
``admin:repo_hook`` scope (or repository administration permission), 422 for a body it refuses.

GitLab project hooks (https://docs.gitlab.com/api/project_webhooks/): ``GET
/projects/:id/hooks`` (``:id`` the URL-encoded ``namespace/project``; ours is the one whose
``url`` is the workflow's URL), ``POST`` (``url``, ``token``: the provider's ``webhook_token``,
sent back as ``X-Gitlab-Token``; ``push_events``, ``merge_requests_events``,
``pipeline_events``; 201), ``PUT /hooks/:hook_id`` (200), ``DELETE`` (204). The access token
goes as ``Authorization: Bearer``; ``api_url`` replaces ``https://gitlab.com/api/v4``.

Every answer other than success, and a provider that cannot be reached, becomes a ``failed``
outcome with a sentence saying what to set up by hand; nothing here raises to the deploy.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from floww.adapters.local.egress_rules import EgressRules
from floww.adapters.provider_hooks.common import Refused, call_provider, expect, phrase
from floww.adapters.provider_hooks.egress import EgressTransport
from floww.adapters.provider_hooks.linear import apply_linear
from floww.adapters.provider_hooks.stripe import apply_stripe
from floww.domain.provider_hooks import HookOutcome, HookTarget

__all__ = ["RestProviderHooks"]

GITHUB_API = "https://api.github.com"
GITLAB_API = "https://gitlab.com/api/v4"

_TITLES = {"github": "GitHub", "gitlab": "GitLab"}
# GitLab's per-event switches of a project hook, by trigger type (GitLab's object_kind).
_GITLAB_EVENTS = {
    "push": "push_events",
    "merge_request": "merge_requests_events",
    "pipeline": "pipeline_events",
}


class RestProviderHooks:
    """Registers webhooks with GitHub, GitLab, Linear and Stripe. ``timeout_s`` bounds each
    call. Calls reach only the addresses ``egress`` accepts (public ones by default; see
    ``floww.adapters.provider_hooks.egress``), through ``transport`` when given."""

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        egress: EgressRules | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self._timeout_s = timeout_s
        self._egress = egress or EgressRules()
        self._inner = transport

    def apply(self, target: HookTarget, config: Mapping[str, str]) -> HookOutcome:
        # One per call: the call's client closes it.
        transport = EgressTransport(self._egress, inner=self._inner)
        kind = target.provider.type
        if kind == "linear":
            return apply_linear(target, config, timeout_s=self._timeout_s, transport=transport)
        if kind == "stripe":
            return apply_stripe(target, config, timeout_s=self._timeout_s, transport=transport)
        title = _TITLES.get(kind)
        if title is None:
            return self._failed(target, f"{kind} webhooks are not registered automatically")
        token = config.get("token", "")
        if not token:
            return self._failed(target, "the provider has no token to register it with")
        if kind == "github":
            base, headers = (
                GITHUB_API,
                {
                    "authorization": f"Bearer {token}",
                    "accept": "application/vnd.github+json",
                    "x-github-api-version": "2022-11-28",
                },
            )
        else:
            base, headers = GITLAB_API, {"authorization": f"Bearer {token}"}
        apply = self._github if kind == "github" else self._gitlab
        return call_provider(
            title,
            target,
            lambda client: apply(client, target, config),
            self._failed,
            functools.partial(_reason, title),
            base_url=config.get("api_url") or base,
            headers=headers,
            timeout_s=self._timeout_s,
            transport=transport,
        )

    def _github(
        self, client: httpx.Client, target: HookTarget, config: Mapping[str, str]
    ) -> HookOutcome:
        owner, _, repo = target.target.partition("/")
        hooks_path = f"/repos/{_segment(owner)}/{_segment(repo)}/hooks"
        existing = _find_hook(client, hooks_path, lambda hook: _config_url(hook) == target.url)
        if target.removal:
            return self._remove(client, target, hooks_path, existing)
        secret = config.get("webhook_secret", "")
        if not secret:
            return self._failed(target, "the provider has no webhook_secret to sign deliveries")
        hook_config = {"url": target.url, "content_type": "json", "secret": secret}
        events = sorted(str(e) for e in existing.get("events", [])) if existing else []
        if existing is None:
            body = {"name": "web", "active": True, "events": list(target.events)}
            _call(client, "POST", hooks_path, {201}, body | {"config": hook_config})
            return HookOutcome.of(target, "created", f"webhook created for {_events(target)}")
        if events == list(target.events) and existing.get("active", True):
            return HookOutcome.of(target, "unchanged", f"webhook already sends {_events(target)}")
        body = {"active": True, "events": list(target.events), "config": hook_config}
        _call(client, "PATCH", f"{hooks_path}/{existing['id']}", {200}, body)
        return HookOutcome.of(target, "updated", f"webhook now sends {_events(target)}")

    def _gitlab(
        self, client: httpx.Client, target: HookTarget, config: Mapping[str, str]
    ) -> HookOutcome:
        hooks_path = f"/projects/{_segment(target.target)}/hooks"
        existing = _find_hook(client, hooks_path, lambda hook: hook.get("url") == target.url)
        if target.removal:
            return self._remove(client, target, hooks_path, existing)
        secret = config.get("webhook_token", "")
        if not secret:
            return self._failed(target, "the provider has no webhook_token to prove deliveries")
        switches = {flag: kind in target.events for kind, flag in _GITLAB_EVENTS.items()}
        body: dict[str, Any] = {"url": target.url, "token": secret, **switches}
        if existing is None:
            _call(client, "POST", hooks_path, {201}, body)
            return HookOutcome.of(target, "created", f"webhook created for {_events(target)}")
        if all(bool(existing.get(flag)) == on for flag, on in switches.items()):
            return HookOutcome.of(target, "unchanged", f"webhook already sends {_events(target)}")
        _call(client, "PUT", f"{hooks_path}/{existing['id']}", {200}, body)
        return HookOutcome.of(target, "updated", f"webhook now sends {_events(target)}")

    def _remove(
        self,
        client: httpx.Client,
        target: HookTarget,
        hooks_path: str,
        existing: dict[str, Any] | None,
    ) -> HookOutcome:
        if existing is None:
            return HookOutcome.of(target, "absent", "no webhook to remove")
        _call(client, "DELETE", f"{hooks_path}/{existing['id']}", {200, 204, 404})
        return HookOutcome.of(target, "removed", "webhook removed")

    def _failed(self, target: HookTarget, why: str) -> HookOutcome:
        if target.removal:
            todo = f"delete the webhook for {target.url} in {target.target}'s settings by hand"
        else:
            todo = (
                f"add a webhook in {target.target}'s settings by hand: URL {target.url}, "
                "content type application/json, the provider's webhook secret, events "
                + ", ".join(target.events)
            )
        return HookOutcome.of(target, "failed", f"{why}; {todo}")


def _config_url(hook: dict[str, Any]) -> Any:
    config = hook.get("config")
    return config.get("url") if isinstance(config, dict) else None


def _segment(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _events(target: HookTarget) -> str:
    return phrase("event", target.events)


def _call(
    client: httpx.Client, method: str, path: str, ok: set[int], body: Any = None
) -> httpx.Response:
    return expect(client.request(method, path, json=body), ok, _said)


def _said(doc: dict[str, Any], reason: str) -> str:
    said = str(doc.get("message") or reason)
    errors = doc.get("errors")
    if isinstance(errors, list):
        details = [
            str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")
        ]
        if details:
            said += f" ({'; '.join(details)})"
    return said


def _find_hook(
    client: httpx.Client, hooks_path: str, ours: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    """The first of the listed webhooks that is ``ours``, over every page (at most 10)."""
    page = 1
    while True:
        response = _call(client, "GET", f"{hooks_path}?per_page=100&page={page}", {200})
        hooks = response.json()
        if not isinstance(hooks, list):
            raise Refused(response.status_code, "the hook list is not a list")
        for hook in hooks:
            if isinstance(hook, dict) and ours(hook):
                return dict(hook)
        if len(hooks) < 100 or page >= 10:
            return None
        page += 1


def _reason(title: str, exc: Refused) -> str:
    said = f"({exc.status}: {exc.message})"
    if exc.status in (401, 403):
        needs = (
            "the admin:repo_hook scope or the repository's Webhooks permission"
            if title == "GitHub"
            else "the api scope and the Maintainer role on the project"
        )
        return f"{title} refused the token {said}; it needs {needs}"
    if exc.status == 404:
        return f"{title} found nothing there the token may administer {said}"
    return f"{title} refused the webhook {said}"
