"""Discord interactions: Discord signs ``<X-Signature-Timestamp><raw body>`` with Ed25519 under
the application's key; the public key (hex) verifies it (``X-Signature-Ed25519``, hex). A PING
(type 1) is answered with a PONG; application commands (type 2) and message components
(type 3) run triggers and are acknowledged at once with a deferred response (Discord wants an
answer within three seconds); the handler then edits the original response. Deliveries with a
timestamp more than five minutes away are refused; the interaction ``id`` deduplicates.
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
    json_body,
    one_of,
    within_window,
)

__all__ = ["DISCORD_TOLERANCE_SECONDS", "RULES"]

DISCORD_TOLERANCE_SECONDS = 300
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT = 1, 2, 3
PONG, DEFERRED_MESSAGE, DEFERRED_UPDATE = 1, 5, 6
_TRIGGERS = {"command": APPLICATION_COMMAND, "component": MESSAGE_COMPONENT}


def _signature_ok(public_key_hex: str, signature_hex: str, message: bytes) -> bool:
    # Imported here: user code imports the provider catalogue, and stays light.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), message)
    except (ValueError, InvalidSignature):
        return False
    return True


def verify(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    public_key = config.get("public_key", "")
    timestamp = headers.get("x-signature-timestamp", "")
    signature = headers.get("x-signature-ed25519", "")
    if not public_key or not _signature_ok(public_key, signature, timestamp.encode() + body):
        raise Unauthenticated("Discord signature does not verify with the public key")
    within_window("Discord signature", timestamp, now, DISCORD_TOLERANCE_SECONDS)
    payload = json_body(body, "Discord")
    if not isinstance(payload, dict):
        return Delivery(ignored="Discord payload is not an object")
    kind = payload.get("type")
    if kind == PING:
        return Delivery(reply={"type": PONG})
    if kind != _TRIGGERS.get(spec.trigger_type):
        return Delivery(ignored=f"Discord interaction of type {kind!r} is not {spec.trigger_type}")
    data: Any = payload.get("data")
    data = data if isinstance(data, dict) else {}
    if kind == APPLICATION_COMMAND and not one_of(data.get("name"), spec.input.get("name")):
        return Delivery(ignored=f"command {data.get('name')!r} is not {spec.input['name']!r}")
    if kind == MESSAGE_COMPONENT and not one_of(data.get("custom_id"), spec.input.get("custom_id")):
        return Delivery(ignored=f"component {data.get('custom_id')!r} is not wanted")
    interaction_id = payload.get("id")
    return Delivery(
        event={"type": spec.trigger_type, "payload": payload},
        delivery_id=interaction_id if isinstance(interaction_id, str) else None,
        ack={"type": DEFERRED_MESSAGE if kind == APPLICATION_COMMAND else DEFERRED_UPDATE},
    )


RULES = ProviderRules(
    type="discord",
    title="Discord",
    fields=(
        ProviderField("application_id", label="Application id", secret=False),
        ProviderField("public_key", label="Application public key (hex)", secret=False),
        ProviderField("bot_token", label="Bot token", secret=True),
        api_url_field("https://discord.com/api/v10"),
    ),
    triggers=(
        TriggerType("command", "an application (slash) command", ("name",)),
        TriggerType("component", "a button or select menu", ("custom_id",)),
    ),
    actions=("edit_original_response", "send_message"),
    verify=verify,
)
