"""Slack: every request Slack sends (Events API callbacks, slash commands, interactivity) is
signed with the app's signing secret over ``v0:<timestamp>:<raw body>``
(``X-Slack-Signature``, ``X-Slack-Request-Timestamp``); stale timestamps are refused, and the
``url_verification`` challenge sent once when the URL is configured is answered.

Events arrive as JSON envelopes; slash commands as forms (``command``, ``text``,
``response_url``...); interactivity as a form whose ``payload`` field is JSON (``block_actions``,
``view_submission``). A ``message`` trigger runs for messages people write, never for bots'
messages (its own included) nor edits and deletions, unless it asks for bots
(``include_bots``), so a handler that posts to its channel cannot trigger itself. Slash
commands and interactivity are acknowledged with an empty 200 within Slack's three seconds; a
handler answers through ``response_url``.
"""

from __future__ import annotations

import hashlib
import hmac
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
    content_type,
    form_fields,
    json_body,
    one_of,
    same,
    within_window,
)

__all__ = ["RULES", "SLACK_TOLERANCE_SECONDS", "sign_slack"]

SLACK_TOLERANCE_SECONDS = 300

# Message subtypes a person's own writing produces; the others are bots, edits, deletions,
# joins and the like (https://api.slack.com/events/message).
_PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})
_EVENT_TRIGGERS = frozenset({"message", "app_mention"})


def sign_slack(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _written_by_a_person(event: Mapping[str, Any]) -> bool:
    return event.get("subtype") in _PERSON_SUBTYPES and not event.get("bot_id")


def verify(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    secret = config.get("signing_secret", "")
    timestamp = headers.get("x-slack-request-timestamp", "")
    within_window("Slack request", timestamp, now, SLACK_TOLERANCE_SECONDS)
    given = headers.get("x-slack-signature", "")
    if not secret or not same(given, sign_slack(secret, timestamp, body)):
        raise Unauthenticated("Slack signature does not match the signing secret")
    if content_type(headers) == "application/x-www-form-urlencoded":
        return _form(spec, form_fields(body, "Slack"))
    payload = json_body(body, "Slack")
    if not isinstance(payload, dict):
        return Delivery(ignored="Slack payload is not an object")
    if payload.get("type") == "url_verification":
        return Delivery(reply={"challenge": payload.get("challenge")})
    return _event(spec, payload)


def _event(spec: TriggerSpec, payload: dict[str, Any]) -> Delivery:
    event = payload.get("event") or {}
    if not isinstance(event, dict):
        return Delivery(ignored="Slack payload's event is not an object")
    if spec.trigger_type not in _EVENT_TRIGGERS or event.get("type") != spec.trigger_type:
        return Delivery(ignored=f"Slack event {event.get('type')!r} is not {spec.trigger_type!r}")
    bots_welcome = spec.trigger_type == "message" and spec.input.get("include_bots") is True
    if spec.trigger_type == "message" and not bots_welcome and not _written_by_a_person(event):
        return Delivery(ignored=f"Slack message of subtype {event.get('subtype')!r} or by a bot")
    channel = spec.input.get("channel")
    if channel and event.get("channel") != channel:
        return Delivery(ignored=f"message in {event.get('channel')!r}, not {channel!r}")
    return Delivery(
        event={"type": spec.trigger_type, "payload": payload}, delivery_id=payload.get("event_id")
    )


def _form(spec: TriggerSpec, fields: dict[str, str]) -> Delivery:
    if "payload" in fields:
        payload = json_body(fields["payload"].encode("utf-8"), "Slack")
        if not isinstance(payload, dict):
            return Delivery(ignored="Slack interactivity payload is not an object")
        return _interaction(spec, payload)
    if "command" not in fields:
        return Delivery(ignored="Slack form is neither a slash command nor an interaction")
    if spec.trigger_type != "slash_command":
        return Delivery(ignored=f"a slash command is not {spec.trigger_type!r}")
    if not one_of(fields["command"], spec.input.get("command")):
        return Delivery(ignored=f"command {fields['command']!r}, not {spec.input['command']!r}")
    return Delivery(
        event={"type": "slash_command", "payload": fields},
        delivery_id=fields.get("trigger_id") or None,
        ack=None,
    )


def _interaction(spec: TriggerSpec, payload: dict[str, Any]) -> Delivery:
    kind = payload.get("type")
    if kind != spec.trigger_type:
        return Delivery(ignored=f"Slack interaction {kind!r} is not {spec.trigger_type!r}")
    if kind == "block_actions":
        wanted = spec.input.get("action_id")
        actions = payload.get("actions")
        ids = (
            [a.get("action_id") for a in actions if isinstance(a, dict)]
            if isinstance(actions, list)
            else []
        )
        if wanted and wanted not in ids:
            return Delivery(ignored=f"actions {ids!r} do not include {wanted!r}")
    if kind == "view_submission":
        view = payload.get("view")
        callback = view.get("callback_id") if isinstance(view, dict) else None
        if not one_of(callback, spec.input.get("callback_id")):
            return Delivery(ignored=f"view {callback!r} is not {spec.input['callback_id']!r}")
    trigger_id = payload.get("trigger_id")
    return Delivery(
        event={"type": kind, "payload": payload},
        delivery_id=trigger_id if isinstance(trigger_id, str) and trigger_id else None,
        ack=None,
    )


RULES = ProviderRules(
    type="slack",
    title="Slack",
    fields=(
        ProviderField("bot_token", label="Bot token", secret=True),
        ProviderField("signing_secret", label="Signing secret", secret=True),
        api_url_field("https://slack.com/api"),
    ),
    triggers=(
        TriggerType("message", "a message people write", ("channel", "include_bots")),
        TriggerType("app_mention", "a message that mentions the app", ("channel",)),
        TriggerType("slash_command", "a slash command", ("command",)),
        TriggerType("block_actions", "a button or menu in a message", ("action_id",)),
        TriggerType("view_submission", "a modal submitted", ("callback_id",)),
    ),
    actions=("send_message", "respond"),
    verify=verify,
)
