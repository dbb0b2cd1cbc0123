"""Linear: each delivery is signed with HMAC-SHA256 of the raw body under the webhook's signing
secret (``Linear-Signature``, hex) and names itself (``Linear-Delivery``). The signed body
carries ``webhookTimestamp`` (Unix milliseconds); Linear asks receivers to refuse deliveries
more than a minute old. ``type`` names the entity (``Issue``, ``Comment``) and ``action`` what
happened (``create``, ``update``, ``remove``).
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
    hmac_sha256,
    json_body,
    one_of,
    same,
)

__all__ = ["LINEAR_TOLERANCE_SECONDS", "RULES", "sign_linear"]

LINEAR_TOLERANCE_SECONDS = 60
_ENTITIES = {"issue": "Issue", "comment": "Comment"}


def sign_linear(secret: str, body: bytes) -> str:
    return hmac_sha256(secret, body).hex()


def verify(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    secret = config.get("webhook_secret", "")
    if not secret or not same(headers.get("linear-signature", ""), sign_linear(secret, body)):
        raise Unauthenticated("Linear signature does not match the webhook's signing secret")
    payload = json_body(body, "Linear")
    if not isinstance(payload, dict):
        return Delivery(ignored="Linear payload is not an object")
    stamp = payload.get("webhookTimestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        raise Unauthenticated("Linear delivery has no webhookTimestamp")
    if abs(now.timestamp() - stamp / 1000) > LINEAR_TOLERANCE_SECONDS:
        raise Unauthenticated("Linear webhookTimestamp is outside the allowed window")
    entity = _ENTITIES.get(spec.trigger_type)
    if payload.get("type") != entity:
        return Delivery(ignored=f"Linear {payload.get('type')!r} event is not {entity!r}")
    if not one_of(payload.get("action"), spec.input.get("actions")):
        return Delivery(ignored=f"Linear action {payload.get('action')!r} is not wanted")
    data = payload.get("data")
    team = spec.input.get("team_id")
    if team and (not isinstance(data, dict) or data.get("teamId") != team):
        return Delivery(ignored=f"Linear issue not in team {team!r}")
    return Delivery(
        event={"type": spec.trigger_type, "payload": payload},
        delivery_id=headers.get("linear-delivery") or None,
    )


LINEAR_WORKSPACE = "workspace"
_RESOURCES = {"issue": "Issue", "comment": "Comment"}


def hook_target(spec: TriggerSpec) -> tuple[str, str] | None:
    """A trigger's webhook: one per provider alias on the workspace's public teams, for the
    trigger's resource type (``Issue``, ``Comment``)."""
    resource = _RESOURCES.get(spec.trigger_type)
    return None if resource is None else (LINEAR_WORKSPACE, resource)


RULES = ProviderRules(
    type="linear",
    title="Linear",
    fields=(
        ProviderField("api_key", label="API key", secret=True),
        ProviderField("webhook_secret", label="Webhook signing secret", secret=True),
        api_url_field("https://api.linear.app"),
    ),
    triggers=(
        TriggerType("issue", "an issue created, updated or removed", ("actions", "team_id")),
        TriggerType("comment", "a comment created, updated or removed", ("actions",)),
    ),
    actions=("create_issue", "create_comment"),
    verify=verify,
    hook_target=hook_target,
)
