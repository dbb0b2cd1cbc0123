"""Standard Webhooks (https://www.standardwebhooks.com), the specification many senders follow:
``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (space-separated
``v1,<base64>`` entries, several while a secret is rolled), where each signature is the
HMAC-SHA256 of ``<id>.<timestamp>.<raw body>`` under the base64-decoded part of a
``whsec_`` secret. Deliveries more than five minutes away are refused and the id deduplicates.
One provider type serves every sender that follows it; the payload's ``type`` names the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from floww.domain.errors import Unauthenticated
from floww.domain.model import ProviderField, TriggerSpec
from floww.domain.providers.base import (
    Delivery,
    ProviderRules,
    TriggerType,
    b64,
    b64decode,
    hmac_sha256,
    json_body,
    same,
    within_window,
)
from floww.domain.providers.stripe import type_matches

__all__ = ["RULES", "TOLERANCE_SECONDS", "secret_key", "sign_standard"]

TOLERANCE_SECONDS = 300
_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes | None:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional); ``None`` if the
    rest is not base64."""
    return b64decode(secret[len(_PREFIX) :] if secret.startswith(_PREFIX) else secret)


def sign_standard(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = secret_key(secret)
    if key is None:
        raise ValueError("the secret is not whsec_<base64>")
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + b64(hmac_sha256(key, signed))


def verify(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    key = secret_key(config.get("webhook_secret", ""))
    webhook_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not key or not webhook_id:
        raise Unauthenticated("webhook-id header or a whsec_ secret is missing")
    within_window("webhook-timestamp", timestamp, now, TOLERANCE_SECONDS)
    expected = "v1," + b64(hmac_sha256(key, f"{webhook_id}.{timestamp}.".encode() + body))
    given = headers.get("webhook-signature", "").split()
    if not any(same(entry, expected) for entry in given):
        raise Unauthenticated("webhook-signature does not match the signing secret")
    payload = json_body(body, "Standard Webhooks")
    if not isinstance(payload, dict):
        return Delivery(ignored="payload is not an object")
    if not type_matches(payload.get("type"), spec.input.get("types")):
        return Delivery(ignored=f"event {payload.get('type')!r} is not wanted")
    return Delivery(event={"type": "event", "payload": payload}, delivery_id=webhook_id)


RULES = ProviderRules(
    type="standard_webhooks",
    title="Standard Webhooks (any sender following standardwebhooks.com)",
    fields=(ProviderField("webhook_secret", label="Signing secret (whsec_...)", secret=True),),
    triggers=(TriggerType("event", "any event (types: exact, family.* or *)", ("types",)),),
    actions=("send",),
    verify=verify,
)
