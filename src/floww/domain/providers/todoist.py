"""Todoist: each delivery carries ``X-Todoist-Hmac-SHA256``, the base64 HMAC-SHA256 of the raw
body under the app's client secret, and ``X-Todoist-Delivery-ID`` (unsigned: deliveries are
deduplicated on the signed body's digest). ``event_name`` names what happened
(``item:added``, ``item:completed``...). Todoist signs no timestamp.
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
    api_url_field,
    b64,
    body_id,
    hmac_sha256,
    json_body,
    one_of,
    same,
)

__all__ = ["RULES", "sign_todoist"]


def sign_todoist(secret: str, body: bytes) -> str:
    return b64(hmac_sha256(secret, body))


def verify(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    secret = config.get("client_secret", "")
    given = headers.get("x-todoist-hmac-sha256", "")
    if not secret or not same(given, sign_todoist(secret, body)):
        raise Unauthenticated("Todoist signature does not match the client secret")
    payload = json_body(body, "Todoist")
    if not isinstance(payload, dict):
        return Delivery(ignored="Todoist payload is not an object")
    name = payload.get("event_name")
    entity, _, what = str(name).partition(":")
    if entity != spec.trigger_type:
        return Delivery(ignored=f"Todoist event {name!r} is not about {spec.trigger_type}s")
    if not one_of(what, spec.input.get("events")):
        return Delivery(ignored=f"Todoist event {name!r} is not wanted")
    data = payload.get("event_data")
    project = spec.input.get("project_id")
    if project and (not isinstance(data, dict) or str(data.get("project_id")) != project):
        return Delivery(ignored=f"Todoist item not in project {project!r}")
    return Delivery(
        event={"type": spec.trigger_type, "payload": payload},
        delivery_id=body_id(body),
    )


RULES = ProviderRules(
    type="todoist",
    title="Todoist",
    fields=(
        ProviderField("api_token", label="API token", secret=True),
        ProviderField("client_secret", label="App client secret", secret=True),
        api_url_field("https://api.todoist.com/rest/v2"),
    ),
    triggers=(
        TriggerType(
            "item", "a task added, updated, completed or deleted", ("events", "project_id")
        ),
        TriggerType("note", "a comment added, updated or deleted", ("events",)),
    ),
    actions=("create_task", "close_task"),
    verify=verify,
)
