"""What a handler receives as ``event``, and the wire form every host sends it in.

One shape everywhere (dev, local workers, Lambda): the runtime builds the event from the wire
dict according to the trigger it fires.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from floww.domain.errors import InvalidInput
from floww.domain.model import TriggerSpec

__all__ = [
    "CronEvent",
    "Event",
    "ManualEvent",
    "ProviderEvent",
    "WebhookEvent",
    "event_from_wire",
]


def _dict(value: Any) -> dict[str, Any]:
    return dict(value or {})


@attrs.frozen
class WebhookEvent:
    """An HTTP request to a builtin webhook. ``body`` is the parsed JSON body when the request
    carried JSON, else the body as text; ``raw_body`` is the exact bytes received."""

    method: str
    path: str
    headers: dict[str, str] = attrs.field(factory=dict, converter=_dict)
    query: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    body: Any = None
    raw_body: bytes = b""
    path_params: dict[str, str] = attrs.field(factory=dict, converter=_dict)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header by case-insensitive name."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default

    def to_wire(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": dict(self.headers),
            "query": dict(self.query),
            "body": self.body,
            "raw_body_b64": base64.b64encode(self.raw_body).decode("ascii"),
            "path_params": dict(self.path_params),
        }


@attrs.frozen
class CronEvent:
    """A cron tick; ``scheduled_time`` is the time it was due (aware, UTC), not when it ran."""

    scheduled_time: datetime
    expression: str

    def to_wire(self) -> dict[str, Any]:
        return {"scheduled_time": self.scheduled_time.isoformat(), "expression": self.expression}


@attrs.frozen
class ManualEvent:
    """A run someone asked for, with the input they gave."""

    input: Any = None
    triggered_by: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"input": self.input, "triggered_by": self.triggered_by}


def _dig(payload: dict[str, Any], *path: str) -> Any:
    """``payload[path[0]][path[1]]...``, or ``None`` as soon as a step is missing."""
    value: Any = payload
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def _branch(payload: dict[str, Any]) -> str | None:
    ref = payload.get("ref")
    prefix = "refs/heads/"
    return ref[len(prefix) :] if isinstance(ref, str) and ref.startswith(prefix) else None


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _slack_event(payload: dict[str, Any]) -> dict[str, Any]:
    """The inner event of a Slack Events API envelope; the payload itself if it is bare."""
    inner = payload.get("event")
    return inner if isinstance(inner, dict) else payload


_Resolve = Callable[[dict[str, Any]], Any]

# What each provider event offers on top of ``type`` and ``payload``, read from the payload as
# the provider documents it. A value the payload lacks reads as ``None`` (``[]`` for lists).
_CONVENIENCES: dict[str, dict[str, _Resolve]] = {
    "github:push": {  # GitHub: https://docs.github.com/webhooks/webhook-events-and-payloads#push
        "pusher": lambda p: _dig(p, "pusher", "name"),
        "ref": lambda p: _dig(p, "ref"),
        "branch": _branch,
        "repository": lambda p: _dig(p, "repository", "full_name"),
        "commits": lambda p: _list(p.get("commits")),
        "head_commit": lambda p: _dig(p, "head_commit"),
    },
    "slack:message": {  # Slack Events API: an ``event_callback`` envelope around the message
        "user": lambda p: _dig(_slack_event(p), "user"),
        "channel": lambda p: _dig(_slack_event(p), "channel"),
        "text": lambda p: _dig(_slack_event(p), "text"),
        "ts": lambda p: _dig(_slack_event(p), "ts"),
    },
}


@attrs.frozen
class ProviderEvent:
    """An event of a third-party provider (a GitHub push, a Slack message): its payload as the
    provider sent it, plus read-only conveniences for the well-known event types.

    A GitHub ``push`` offers ``pusher`` (the pusher's name), ``ref``, ``branch`` (the ref
    without ``refs/heads/``; ``None`` for a tag), ``repository`` (``owner/name``), ``commits``
    and ``head_commit``. A Slack ``message`` offers ``user``, ``channel``, ``text`` and ``ts``
    (read from the envelope's ``event``). What the payload lacks reads as ``None`` (``commits``
    as ``[]``); any other attribute raises ``AttributeError`` naming the ones available.
    The wire form stays ``{"type", "payload"}``.
    """

    type: str
    payload: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    provider: str | None = attrs.field(default=None, kw_only=True, eq=False)
    """The provider type that sent it; conveniences are those of that provider's event (any
    provider's of this ``type`` when ``None``)."""

    def __getattr__(self, name: str) -> Any:
        # Reached only when normal lookup fails. Private names (copy, pickle probing, attrs
        # internals) fail at once, so nothing here runs before the fields are set.
        if name.startswith("_") or name in ("type", "payload", "provider"):
            raise AttributeError(name)
        conveniences = self._conveniences()
        if name in conveniences:
            return conveniences[name](self.payload)
        available = ", ".join(["type", "payload", "to_wire", *conveniences])
        raise AttributeError(
            f"{self.type!r} event has no attribute {name!r}; available: {available}"
        )

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._conveniences()})

    def _conveniences(self) -> dict[str, _Resolve]:
        for key, conveniences in _CONVENIENCES.items():
            provider, _, kind = key.partition(":")
            if kind == self.type and self.provider in (None, provider):
                return conveniences
        return {}

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "payload": dict(self.payload)}


Event = WebhookEvent | CronEvent | ManualEvent | ProviderEvent


def event_from_wire(spec: TriggerSpec, wire: dict[str, Any]) -> Event:
    """Build the event for ``spec`` from its wire dict; ``InvalidInput`` when it is malformed."""
    if not isinstance(wire, dict):
        raise InvalidInput(f"event must be an object, not {type(wire).__name__}")
    try:
        if spec.provider.type == "builtin":
            if spec.trigger_type == "webhook":
                return _webhook(wire)
            if spec.trigger_type == "cron":
                return CronEvent(
                    scheduled_time=_aware(wire["scheduled_time"]),
                    expression=str(wire.get("expression", spec.input.get("expression", ""))),
                )
            if spec.trigger_type == "manual":
                return ManualEvent(input=wire.get("input"), triggered_by=wire.get("triggered_by"))
        payload = wire.get("payload", {})
        if not isinstance(payload, dict):
            raise InvalidInput("provider event payload must be an object")
        return ProviderEvent(
            type=str(wire.get("type") or spec.trigger_type),
            payload=payload,
            provider=spec.provider.type,
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise InvalidInput(f"malformed {spec.trigger_type} event: {exc!r}") from exc


def _webhook(wire: dict[str, Any]) -> WebhookEvent:
    raw = base64.b64decode(wire.get("raw_body_b64") or "", validate=True)
    return WebhookEvent(
        method=str(wire["method"]).upper(),
        path=str(wire["path"]),
        headers={str(k): str(v) for k, v in (wire.get("headers") or {}).items()},
        query=wire.get("query") or {},
        body=wire.get("body"),
        raw_body=raw,
        path_params={str(k): str(v) for k, v in (wire.get("path_params") or {}).items()},
    )


def _aware(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
