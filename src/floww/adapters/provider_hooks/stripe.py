"""Stripe webhook endpoints (https://docs.stripe.com/api/webhook_endpoints), one per provider
alias on its Stripe account, found by ``url``.

``GET /v1/webhook_endpoints?limit=100`` lists them (``{"object": "list", "data": [...],
"has_more": ...}``, paged with ``starting_after``); ``POST /v1/webhook_endpoints`` creates one
(form-encoded ``url`` and ``enabled_events[]``; the answer alone carries the endpoint's signing
``secret``); ``POST /v1/webhook_endpoints/{id}`` updates ``enabled_events[]``; ``DELETE
/v1/webhook_endpoints/{id}`` removes it. The secret key goes as ``Authorization: Bearer``;
``api_url`` replaces ``https://api.stripe.com``. Errors answer ``{"error": {"message": ...}}``
(401 for a bad key, 403 for a restricted key without the Webhook Endpoints write permission,
404 for an unknown endpoint).

``enabled_events`` takes exact event names or ``*``: a trigger asking for a family
(``invoice.*``) or for every event makes the endpoint ``*``; the trigger's own ``types`` still
select what runs (``floww.domain.providers.stripe``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

from floww.adapters.provider_hooks.common import Refused, call_provider, expect, phrase
from floww.domain.provider_hooks import HookOutcome, HookTarget

__all__ = ["STRIPE_API", "apply_stripe", "enabled_events"]

STRIPE_API = "https://api.stripe.com"
_PATH = "/v1/webhook_endpoints"


def enabled_events(events: tuple[str, ...]) -> list[str]:
    """What Stripe's ``enabled_events`` can say for ``events``: the exact names, sorted, or
    ``["*"]`` when any is ``*`` or a family."""
    if any(e == "*" or e.endswith(".*") for e in events):
        return ["*"]
    return sorted(set(events))


def apply_stripe(
    target: HookTarget,
    config: Mapping[str, str],
    *,
    timeout_s: float,
    transport: httpx.BaseTransport | None = None,
) -> HookOutcome:
    """Make the alias's Stripe endpoint agree with ``target``; never raises for what Stripe
    answers. A created endpoint's signing secret comes back in ``config_update``."""
    key = config.get("secret_key", "")
    if not key:
        return _failed(target, "the provider has no secret_key to register it with")
    return call_provider(
        "Stripe",
        target,
        lambda client: _apply(client, target),
        _failed,
        _reason,
        base_url=config.get("api_url") or STRIPE_API,
        headers={"authorization": f"Bearer {key}"},
        timeout_s=timeout_s,
        transport=transport,
    )


def _apply(client: httpx.Client, target: HookTarget) -> HookOutcome:
    existing = _find(client, target.url)
    if target.removal:
        if existing is None:
            return HookOutcome.of(target, "absent", "no webhook endpoint to remove")
        _call(client, "DELETE", f"{_PATH}/{existing['id']}", {200, 404})
        return HookOutcome.of(target, "removed", "webhook endpoint removed")
    events = enabled_events(target.events)
    form = [("enabled_events[]", e) for e in events]
    said = phrase("event", events)
    if existing is None:
        created = _call(client, "POST", _PATH, {200}, [("url", target.url), *form]).json()
        secret = created.get("secret") if isinstance(created, dict) else None
        if not isinstance(secret, str) or not secret:
            return HookOutcome.of(
                target,
                "created",
                f"webhook endpoint created for {said}, but Stripe returned no signing secret; "
                "copy it from the endpoint in Stripe's dashboard into the provider's "
                "webhook_secret",
            )
        return HookOutcome.of(
            target,
            "created",
            f"webhook endpoint created for {said}; its signing secret is now the provider's "
            "webhook_secret",
            {"webhook_secret": secret},
        )
    now = sorted(str(e) for e in existing.get("enabled_events") or [])
    if now == events and existing.get("status", "enabled") == "enabled":
        return HookOutcome.of(target, "unchanged", f"webhook endpoint already sends {said}")
    _call(client, "POST", f"{_PATH}/{existing['id']}", {200}, [*form, ("disabled", "false")])
    return HookOutcome.of(target, "updated", f"webhook endpoint now sends {said}")


def _find(client: httpx.Client, url: str) -> dict[str, Any] | None:
    """The endpoint whose ``url`` is ``url``, over every page (at most 10 of 100)."""
    after = ""
    for _ in range(10):
        query = f"{_PATH}?limit=100" + (f"&starting_after={after}" if after else "")
        doc = _call(client, "GET", query, {200}).json()
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            raise Refused(200, "the endpoint list has no data")
        for endpoint in data:
            if isinstance(endpoint, dict) and endpoint.get("url") == url:
                return dict(endpoint)
        if not doc.get("has_more") or not data or not isinstance(data[-1], dict):
            return None
        after = str(data[-1].get("id", ""))
    return None


def _call(
    client: httpx.Client,
    method: str,
    path: str,
    ok: set[int],
    form: list[tuple[str, str]] | None = None,
) -> httpx.Response:
    if form is None:
        response = client.request(method, path)
    else:
        response = client.request(
            method,
            path,
            content=urllib.parse.urlencode(form).encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    return expect(response, ok, _said)


def _said(doc: dict[str, Any], reason: str) -> str:
    error = doc.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return reason


def _reason(exc: Refused) -> str:
    said = f"({exc.status}: {exc.message})"
    if exc.status in (401, 403):
        return (
            f"Stripe refused the secret key {said}; it needs write access to Webhook "
            "Endpoints (a secret key, or a restricted key with that permission)"
        )
    return f"Stripe refused the webhook endpoint {said}"


def _failed(target: HookTarget, why: str) -> HookOutcome:
    if target.removal:
        todo = f"delete the webhook endpoint {target.url} in Stripe's dashboard by hand"
    else:
        todo = (
            f"add a webhook endpoint in Stripe's dashboard by hand: URL {target.url}, events "
            + ", ".join(enabled_events(target.events))
            + ", then set its signing secret as the provider's webhook_secret"
        )
    return HookOutcome.of(target, "failed", f"{why}; {todo}")
