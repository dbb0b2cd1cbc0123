"""Verifying deliveries to provider-owned webhooks, and turning them into events.

GitHub signs the raw body with HMAC-SHA256 under the webhook secret
(``X-Hub-Signature-256: sha256=<hex>``) and names each delivery (``X-GitHub-Delivery``). Slack
signs ``v0:<timestamp>:<raw body>`` with the app's signing secret (``X-Slack-Signature``,
``X-Slack-Request-Timestamp``), rejects stale timestamps, and sends a ``url_verification``
challenge once when the URL is configured.

A GitHub delivery is JSON, or a form whose ``payload`` field is the JSON (both content types
GitHub's settings offer; the signature covers the raw body either way). A push runs a trigger
only when it is for the trigger's repository (``owner/repository``, compared as GitHub does,
without regard to case) and, when the trigger names one, its branch. A Slack ``message``
trigger runs for messages people write, never for bots' messages (its own included) nor edits
and deletions, so a handler that posts to its channel cannot trigger itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from floww.domain.errors import Unauthenticated
from floww.domain.model import TriggerSpec

__all__ = ["SLACK_TOLERANCE_SECONDS", "Delivery", "sign_github", "sign_slack", "verify_delivery"]

SLACK_TOLERANCE_SECONDS = 300


@attrs.frozen
class Delivery:
    """The verdict on one provider delivery.

    ``reply`` set: answer it directly (a protocol challenge or a ping), run nothing.
    ``ignored`` set: acknowledged but not for this trigger (another branch, say).
    Otherwise run the trigger with ``event``, deduplicated on ``delivery_id``."""

    event: dict[str, Any] = attrs.field(factory=dict)
    delivery_id: str | None = None
    reply: Any = None
    ignored: str | None = None


def sign_github(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_slack(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also holds for a header with non-ASCII characters."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, RecursionError) as exc:
        raise Unauthenticated("delivery body is not JSON") from exc


def _github_payload(headers: Mapping[str, str], body: bytes) -> Any:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return _json_body(body)
    try:
        form = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unauthenticated("GitHub form delivery cannot be read") from exc
    fields = form.get("payload")
    if not fields or len(fields) != 1:
        raise Unauthenticated("GitHub form delivery has no payload field")
    return _json_body(fields[0].encode("utf-8"))


def _github_repository(payload: Any) -> str | None:
    """The ``owner/name`` a GitHub payload is about, lower-cased; ``None`` when it names none."""
    repository = payload.get("repository") if isinstance(payload, dict) else None
    if not isinstance(repository, dict):
        return None
    full_name = repository.get("full_name")
    if isinstance(full_name, str) and full_name:
        return full_name.lower()
    owner = repository.get("owner")
    login = owner.get("login") if isinstance(owner, dict) else None
    name = repository.get("name")
    if isinstance(login, str) and isinstance(name, str):
        return f"{login}/{name}".lower()
    return None


def _github(
    spec: TriggerSpec, config: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> Delivery:
    secret = config.get("webhook_secret", "")
    given = headers.get("x-hub-signature-256", "")
    if not secret or not _same(given, sign_github(secret, body)):
        raise Unauthenticated("GitHub signature does not match the webhook secret")
    kind = headers.get("x-github-event", "")
    delivery_id = headers.get("x-github-delivery")
    if kind == "ping":
        return Delivery(reply={"ok": True, "pong": True}, delivery_id=delivery_id)
    payload = _github_payload(headers, body)
    if kind != spec.trigger_type:
        return Delivery(ignored=f"GitHub event {kind!r} is not {spec.trigger_type!r}")
    wanted = f"{spec.input.get('owner', '')}/{spec.input.get('repository', '')}".lower()
    about = _github_repository(payload)
    if about != wanted:
        return Delivery(ignored=f"delivery for repository {about!r}, not {wanted!r}")
    branch = spec.input.get("branch")
    if branch and isinstance(payload, dict) and payload.get("ref") != f"refs/heads/{branch}":
        return Delivery(ignored=f"push to {payload.get('ref')!r}, not to branch {branch!r}")
    return Delivery(event={"type": kind, "payload": payload}, delivery_id=delivery_id)


def _slack(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    secret = config.get("signing_secret", "")
    timestamp = headers.get("x-slack-request-timestamp", "")
    given = headers.get("x-slack-signature", "")
    try:
        age = abs(now.timestamp() - int(timestamp))
    except ValueError:
        raise Unauthenticated("Slack request timestamp is missing or malformed") from None
    if age > SLACK_TOLERANCE_SECONDS:
        raise Unauthenticated("Slack request timestamp is outside the allowed window")
    if not secret or not _same(given, sign_slack(secret, timestamp, body)):
        raise Unauthenticated("Slack signature does not match the signing secret")
    payload = _json_body(body)
    if not isinstance(payload, dict):
        return Delivery(ignored="Slack payload is not an object")
    if payload.get("type") == "url_verification":
        return Delivery(reply={"challenge": payload.get("challenge")})
    event = payload.get("event") or {}
    if not isinstance(event, dict):
        return Delivery(ignored="Slack payload's event is not an object")
    if event.get("type") != spec.trigger_type:
        return Delivery(ignored=f"Slack event {event.get('type')!r} is not {spec.trigger_type!r}")
    if spec.trigger_type == "message" and not _written_by_a_person(event):
        return Delivery(ignored=f"Slack message of subtype {event.get('subtype')!r} or by a bot")
    channel = spec.input.get("channel")
    if channel and event.get("channel") != channel:
        return Delivery(ignored=f"message in {event.get('channel')!r}, not {channel!r}")
    return Delivery(
        event={"type": spec.trigger_type, "payload": payload}, delivery_id=payload.get("event_id")
    )


# Message subtypes a person's own writing produces; the others are bots, edits, deletions,
# joins and the like (https://api.slack.com/events/message).
_PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})


def _written_by_a_person(event: Mapping[str, Any]) -> bool:
    return event.get("subtype") in _PERSON_SUBTYPES and not event.get("bot_id")


def verify_delivery(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    """Check a delivery to a provider-owned webhook. ``headers`` are lower-cased.
    ``Unauthenticated`` when it is not genuine, and for provider types that have no way to
    verify a delivery (nothing unverified runs)."""
    kind = spec.provider.type
    if kind == "github":
        return _github(spec, config, headers, body)
    if kind == "slack":
        return _slack(spec, config, headers, body, now)
    raise Unauthenticated(f"no way to verify deliveries of provider type {kind!r}")
