"""Jira Cloud: admin webhooks registered with a secret carry ``X-Hub-Signature: sha256=<hex>``,
an HMAC-SHA256 of the raw body under that secret, and a delivery id
(``X-Atlassian-Webhook-Identifier``, unsigned: deliveries are deduplicated on the signed
body's digest, which Jira's retries keep).
``webhookEvent`` names what happened (``jira:issue_created``, ``jira:issue_updated``,
``jira:issue_deleted``). Jira retries a failed delivery with its original body, so no
timestamp window applies.
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
    body_id,
    hmac_sha256,
    json_body,
    one_of,
    same,
)

__all__ = ["RULES", "sign_jira"]

_PREFIX = "jira:issue_"


def sign_jira(secret: str, body: bytes) -> str:
    return "sha256=" + hmac_sha256(secret, body).hex()


def _project(payload: dict[str, Any]) -> Any:
    issue = payload.get("issue")
    fields = issue.get("fields") if isinstance(issue, dict) else None
    project = fields.get("project") if isinstance(fields, dict) else None
    return project.get("key") if isinstance(project, dict) else None


def verify(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    secret = config.get("webhook_secret", "")
    if not secret or not same(headers.get("x-hub-signature", ""), sign_jira(secret, body)):
        raise Unauthenticated("Jira signature does not match the webhook secret")
    payload = json_body(body, "Jira")
    if not isinstance(payload, dict):
        return Delivery(ignored="Jira payload is not an object")
    name = payload.get("webhookEvent")
    if not isinstance(name, str) or not name.startswith(_PREFIX):
        return Delivery(ignored=f"Jira event {name!r} is not an issue event")
    if not one_of(name[len(_PREFIX) :], spec.input.get("events")):
        return Delivery(ignored=f"Jira event {name!r} is not wanted")
    if not one_of(_project(payload), spec.input.get("project")):
        return Delivery(ignored=f"issue of project {_project(payload)!r} is not wanted")
    return Delivery(
        event={"type": "issue", "payload": payload},
        delivery_id=body_id(body),
    )


RULES = ProviderRules(
    type="jira",
    title="Jira",
    fields=(
        ProviderField("site_url", label="Site URL (https://<site>.atlassian.net)", secret=False),
        ProviderField("email", label="Account email", secret=False),
        ProviderField("api_token", label="API token", secret=True),
        ProviderField("webhook_secret", label="Webhook secret", secret=True),
    ),
    triggers=(TriggerType("issue", "an issue created, updated or deleted", ("events", "project")),),
    actions=("create_issue", "add_comment"),
    verify=verify,
)
