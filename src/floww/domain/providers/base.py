"""What every provider's rules are made of, and the checks they share.

A provider's rules live in one module of this package: its credential fields, the triggers it
offers with their filters, how a delivery to its webhook is verified and turned into an event,
and how large a delivery may be. ``floww.domain.providers`` collects them into the catalogue;
nothing else in the core names a provider.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from floww.domain.errors import Unauthenticated
from floww.domain.model import ProviderField, TriggerSpec

__all__ = [
    "ACK",
    "Delivery",
    "ProviderRules",
    "TriggerType",
    "Verify",
    "api_url_field",
    "body_id",
    "form_fields",
    "hmac_sha256",
    "json_body",
    "same",
    "within_window",
]

ACK: Any = {"ok": True}
"""What a provider delivery is answered with when its trigger runs (unless the rules say)."""


@attrs.frozen
class Delivery:
    """The verdict on one provider delivery.

    ``reply`` set: answer it directly (a protocol challenge or a ping), run nothing.
    ``ignored`` set: acknowledged but not for this trigger (another branch, say).
    Otherwise run the trigger with ``event``, deduplicated on ``delivery_id``, and answer the
    provider with ``ack`` at once (the handler runs afterwards)."""

    event: dict[str, Any] = attrs.field(factory=dict)
    delivery_id: str | None = None
    reply: Any = None
    ignored: str | None = None
    ack: Any = attrs.field(factory=lambda: dict(ACK))


Verify = Callable[[TriggerSpec, Mapping[str, str], Mapping[str, str], bytes, datetime], Delivery]
"""``verify(spec, config, headers, body, now)``: headers lower-cased; ``Unauthenticated`` when
the delivery is not genuine."""


@attrs.frozen
class TriggerType:
    """One kind of trigger a provider offers; ``filters`` are the inputs that narrow it."""

    name: str
    description: str
    filters: tuple[str, ...] = ()


@attrs.frozen
class ProviderRules:
    """Everything the core knows about one provider type.

    ``verify`` is ``None`` for providers that receive nothing (a generic secret) or whose
    triggers are the platform's own (builtin). ``max_body_bytes`` overrides the server's webhook
    body limit for deliveries to this provider's triggers (GitHub sends up to 25 MB).
    ``hook_target`` names, for a provider whose API lets the platform register its webhook,
    what a trigger's webhook is registered on and the event it needs (GitHub: the repository
    ``owner/name`` and the event name, or several event names: Stripe's ``types``); ``None``
    when it is set up by hand."""

    type: str
    title: str
    fields: tuple[ProviderField, ...] = ()
    triggers: tuple[TriggerType, ...] = ()
    actions: tuple[str, ...] = ()
    verify: Verify | None = None
    max_body_bytes: int | None = None
    hook_target: Callable[[TriggerSpec], tuple[str, str | tuple[str, ...]] | None] | None = None


def api_url_field(default: str) -> ProviderField:
    """The optional ``api_url`` field of a provider with a web API: another server (GitHub
    Enterprise, a self-managed GitLab, a stand-in in tests) in place of ``default``."""
    return ProviderField(
        "api_url", label=f"API URL (empty for {default})", secret=False, required=False
    )


def same(given: str, expected: str) -> bool:
    """Constant-time comparison that also holds for a header with non-ASCII characters."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def hmac_sha256(key: bytes | str, message: bytes) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, message, hashlib.sha256).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def body_id(body: bytes) -> str:
    """The delivery id of a provider that signs no timestamp: the signed body's digest. Its
    delivery-id header is not signed, so a captured delivery replayed under a new id would
    run again; its body cannot change without breaking the signature. (Two deliveries of one
    body are one event: providers put ids and times in their payloads.)"""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def json_body(body: bytes, provider: str) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, RecursionError) as exc:
        raise Unauthenticated(f"{provider} delivery body is not JSON") from exc


def form_fields(body: bytes, provider: str) -> dict[str, str]:
    """A form body's fields (the last value of a repeated one)."""
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unauthenticated(f"{provider} form delivery cannot be read") from exc
    return dict(pairs)


def content_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def within_window(provider: str, timestamp: str, now: datetime, tolerance_s: float) -> None:
    """``Unauthenticated`` unless ``timestamp`` (Unix seconds) is within ``tolerance_s`` of
    ``now``: a replayed old delivery is refused even with a valid signature."""
    try:
        age = abs(now.timestamp() - int(timestamp))
    except (TypeError, ValueError):
        raise Unauthenticated(f"{provider} timestamp is missing or malformed") from None
    if age > tolerance_s:
        raise Unauthenticated(f"{provider} timestamp is outside the allowed window")


def required(config: Mapping[str, str], field: str, provider: str) -> str:
    value = config.get(field, "")
    if not value:
        raise Unauthenticated(f"{provider} provider has no {field} set up; cannot verify")
    return value


def one_of(value: Any, wanted: Any) -> bool:
    """A filter that is absent, a single value, or a list of accepted values."""
    if wanted in (None, "", [], ()):
        return True
    if isinstance(wanted, list | tuple):
        return value in wanted
    return bool(value == wanted)
