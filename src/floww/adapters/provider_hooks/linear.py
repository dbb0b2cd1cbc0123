"""Linear webhooks over Linear's GraphQL API (https://linear.app/developers/webhooks): one per
provider alias, on all the workspace's public teams, found by ``url``.

Every call is a ``POST /graphql`` (JSON ``{"query", "variables"}``) with the API key in
``Authorization`` as is; ``api_url`` replaces ``https://api.linear.app``. The ``webhooks``
query lists them (``nodes { id url enabled resourceTypes }``, paged with ``pageInfo``);
``webhookCreate(input: {url, allPublicTeams: true, resourceTypes, secret})`` creates one whose
deliveries are signed with the provider's ``webhook_secret``; ``webhookUpdate(id, input:
{resourceTypes, enabled})`` updates it; ``webhookDelete(id)`` removes it. Linear reports a
refusal as ``errors`` (an authentication error for a bad key, an answer other than 200 for
some); both become a ``failed`` outcome with what to set up by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from floww.adapters.provider_hooks.common import Refused, call_provider, phrase
from floww.domain.provider_hooks import HookOutcome, HookTarget

__all__ = ["LINEAR_API", "apply_linear"]

LINEAR_API = "https://api.linear.app"

_LIST = """query Webhooks($after: String) {
  webhooks(first: 100, after: $after) {
    nodes { id url enabled resourceTypes }
    pageInfo { hasNextPage endCursor }
  }
}"""
_CREATE = """mutation Create($input: WebhookCreateInput!) {
  webhookCreate(input: $input) { success webhook { id } }
}"""
_UPDATE = """mutation Update($id: String!, $input: WebhookUpdateInput!) {
  webhookUpdate(id: $id, input: $input) { success }
}"""
_DELETE = """mutation Delete($id: String!) { webhookDelete(id: $id) { success } }"""


def apply_linear(
    target: HookTarget,
    config: Mapping[str, str],
    *,
    timeout_s: float,
    transport: httpx.BaseTransport | None = None,
) -> HookOutcome:
    """Make the alias's Linear webhook agree with ``target``; never raises for what Linear
    answers."""
    key = config.get("api_key", "")
    if not key:
        return _failed(target, "the provider has no api_key to register it with")
    return call_provider(
        "Linear",
        target,
        lambda client: _apply(client, target, config),
        _failed,
        _reason,
        base_url=config.get("api_url") or LINEAR_API,
        headers={"authorization": key},
        timeout_s=timeout_s,
        transport=transport,
    )


def _apply(client: httpx.Client, target: HookTarget, config: Mapping[str, str]) -> HookOutcome:
    existing = _find(client, target.url)
    if target.removal:
        if existing is None:
            return HookOutcome.of(target, "absent", "no webhook to remove")
        _graphql(client, _DELETE, {"id": existing["id"]}, "webhookDelete")
        return HookOutcome.of(target, "removed", "webhook removed")
    said = phrase("resource type", target.events)
    wanted = list(target.events)
    if existing is None:
        secret = config.get("webhook_secret", "")
        if not secret:
            return _failed(target, "the provider has no webhook_secret to sign deliveries")
        entry = {
            "url": target.url,
            "allPublicTeams": True,
            "resourceTypes": wanted,
            "secret": secret,
            "label": "floww",
        }
        _graphql(client, _CREATE, {"input": entry}, "webhookCreate")
        return HookOutcome.of(target, "created", f"webhook created for {said}")
    now = sorted(str(r) for r in existing.get("resourceTypes") or [])
    if now == wanted and existing.get("enabled", True):
        return HookOutcome.of(target, "unchanged", f"webhook already sends {said}")
    change = {"resourceTypes": wanted, "enabled": True}
    _graphql(client, _UPDATE, {"id": existing["id"], "input": change}, "webhookUpdate")
    return HookOutcome.of(target, "updated", f"webhook now sends {said}")


def _find(client: httpx.Client, url: str) -> dict[str, Any] | None:
    """The webhook whose ``url`` is ``url``, over every page (at most 10 of 100)."""
    after: str | None = None
    for _ in range(10):
        found = _graphql(client, _LIST, {"after": after}, "webhooks")
        nodes = found.get("nodes")
        if not isinstance(nodes, list):
            raise Refused(200, "the webhook list has no nodes")
        for node in nodes:
            if isinstance(node, dict) and node.get("url") == url:
                return dict(node)
        page = found.get("pageInfo")
        if not isinstance(page, dict) or not page.get("hasNextPage") or not page.get("endCursor"):
            return None
        after = str(page["endCursor"])
    return None


def _graphql(
    client: httpx.Client, query: str, variables: dict[str, Any], field: str
) -> dict[str, Any]:
    """``data[field]`` of the answer; ``Refused`` for an answer other than 200, for
    ``errors``, or for a mutation that says ``success: false``."""
    response = client.post("/graphql", json={"query": query, "variables": variables})
    try:
        doc = response.json()
    except ValueError:
        doc = None
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str((first.get("extensions") or {}).get("code", "")).upper()
        status = 401 if "AUTHENTICATION" in code else response.status_code
        raise Refused(status, str(first.get("message") or response.reason_phrase))
    if response.status_code != 200:
        raise Refused(response.status_code, response.reason_phrase)
    data = doc.get("data") if isinstance(doc, dict) else None
    found = data.get(field) if isinstance(data, dict) else None
    if not isinstance(found, dict) or found.get("success") is False:
        raise Refused(response.status_code, f"{field} did not succeed")
    return found


def _reason(exc: Refused) -> str:
    said = f"({exc.status}: {exc.message})"
    if exc.status in (401, 403):
        return f"Linear refused the API key {said}; it needs a workspace admin's key"
    return f"Linear refused the webhook {said}"


def _failed(target: HookTarget, why: str) -> HookOutcome:
    if target.removal:
        todo = f"delete the webhook {target.url} in Linear's API settings by hand"
    else:
        todo = (
            f"add a webhook in Linear's API settings by hand: URL {target.url}, all public "
            "teams, the provider's webhook secret, resource types " + ", ".join(target.events)
        )
    return HookOutcome.of(target, "failed", f"{why}; {todo}")
