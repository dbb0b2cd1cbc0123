"""Stripe: each delivery carries ``Stripe-Signature: t=<unix time>,v1=<hex>[,v1=...]``, an
HMAC-SHA256 of ``<t>.<raw body>`` under the endpoint's signing secret (``whsec_...``); several
``v1`` entries appear while a secret is rolled. Deliveries older than five minutes are refused
(Stripe's own libraries' default tolerance), and the event ``id`` deduplicates retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from floww.domain.errors import Unauthenticated
from floww.domain.model import ProviderField, TriggerSpec
from floww.domain.providers.base import (
    Delivery,
    ProviderRules,
    TriggerType,
    api_url_field,
    hmac_sha256,
    json_body,
    same,
    within_window,
)

__all__ = ["RULES", "STRIPE_TOLERANCE_SECONDS", "sign_stripe"]

STRIPE_TOLERANCE_SECONDS = 300


def sign_stripe(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``body`` at ``timestamp``."""
    digest = hmac_sha256(secret, str(timestamp).encode() + b"." + body).hex()
    return f"t={timestamp},v1={digest}"


def _parse(header: str) -> tuple[str, list[str]]:
    timestamp = ""
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    return timestamp, signatures


def type_matches(event_type: Any, wanted: Any) -> bool:
    """Stripe's event selection: ``*`` for all, ``invoice.*`` for a family, or exact names."""
    if not wanted:
        return True
    patterns = wanted if isinstance(wanted, list | tuple) else [wanted]
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        family = isinstance(pattern, str) and pattern.endswith(".*")
        if family and isinstance(event_type, str) and event_type.startswith(pattern[:-1]):
            return True
    return False


def verify(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    secret = config.get("webhook_secret", "")
    timestamp, signatures = _parse(headers.get("stripe-signature", ""))
    within_window("Stripe signature", timestamp, now, STRIPE_TOLERANCE_SECONDS)
    expected = hmac_sha256(secret, timestamp.encode() + b"." + body).hex()
    if not secret or not any(same(given, expected) for given in signatures):
        raise Unauthenticated("Stripe signature does not match the endpoint's signing secret")
    payload = json_body(body, "Stripe")
    if not isinstance(payload, dict) or payload.get("object") != "event":
        return Delivery(ignored="Stripe payload is not an event")
    event_type = payload.get("type")
    if not type_matches(event_type, spec.input.get("types")):
        return Delivery(ignored=f"Stripe event {event_type!r} is not wanted")
    event_id = payload.get("id")
    return Delivery(
        event={"type": "event", "payload": payload},
        delivery_id=event_id if isinstance(event_id, str) and event_id else None,
    )


STRIPE_ACCOUNT = "account"


def hook_target(spec: TriggerSpec) -> tuple[str, tuple[str, ...]]:
    """A trigger's webhook endpoint: one per provider alias on its Stripe account, enabled for
    the trigger's ``types`` (``*`` when it names none)."""
    wanted = spec.input.get("types")
    names = wanted if isinstance(wanted, list | tuple) else [wanted] if wanted else []
    events = tuple(str(n) for n in names if n) or ("*",)
    return STRIPE_ACCOUNT, events


RULES = ProviderRules(
    type="stripe",
    title="Stripe",
    fields=(
        ProviderField("secret_key", label="Secret API key (sk_... or rk_...)", secret=True),
        ProviderField("webhook_secret", label="Webhook signing secret (whsec_...)", secret=True),
        api_url_field("https://api.stripe.com"),
    ),
    triggers=(TriggerType("event", "any Stripe event (types: exact, family.* or *)", ("types",)),),
    actions=("retrieve", "create_refund", "update_metadata"),
    verify=verify,
    hook_target=hook_target,
)
