"""GitLab: project and group webhooks carry the secret token configured with them
(``X-Gitlab-Token``, compared in constant time), the event name (``X-Gitlab-Event``, such as
``Push Hook``) and a per-delivery id (``X-Gitlab-Event-UUID``). GitLab signs no timestamp, so
replays are caught by deduplication on the body's digest (the event UUID header could be
changed by whoever replays). The payload's ``object_kind`` names the event.
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
    body_id,
    json_body,
    one_of,
    same,
)

__all__ = ["RULES"]


def _project(payload: dict[str, Any]) -> str | None:
    project = payload.get("project")
    path = project.get("path_with_namespace") if isinstance(project, dict) else None
    return path.lower() if isinstance(path, str) else None


def verify(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    secret = config.get("webhook_token", "")
    if not secret or not same(headers.get("x-gitlab-token", ""), secret):
        raise Unauthenticated("GitLab token does not match the webhook token")
    payload = json_body(body, "GitLab")
    if not isinstance(payload, dict):
        return Delivery(ignored="GitLab payload is not an object")
    kind = payload.get("object_kind")
    if kind != spec.trigger_type:
        return Delivery(ignored=f"GitLab event {kind!r} is not {spec.trigger_type!r}")
    wanted = str(spec.input.get("project", "")).lower()
    if wanted and _project(payload) != wanted:
        return Delivery(ignored=f"delivery for project {_project(payload)!r}, not {wanted!r}")
    branch = spec.input.get("branch")
    if branch and payload.get("ref") != f"refs/heads/{branch}":
        return Delivery(ignored=f"push to {payload.get('ref')!r}, not to branch {branch!r}")
    attributes = payload.get("object_attributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    if not one_of(attributes.get("action"), spec.input.get("actions")):
        return Delivery(ignored=f"merge request action {attributes.get('action')!r} not wanted")
    if not one_of(attributes.get("status"), spec.input.get("statuses")):
        return Delivery(ignored=f"pipeline status {attributes.get('status')!r} not wanted")
    return Delivery(
        event={"type": kind, "payload": payload},
        delivery_id=body_id(body),
    )


def hook_target(spec: TriggerSpec) -> tuple[str, str] | None:
    """A trigger's project hook: the project path and the event (its ``object_kind``)."""
    project = spec.input.get("project")
    return (str(project), spec.trigger_type) if project else None


RULES = ProviderRules(
    type="gitlab",
    title="GitLab",
    fields=(
        ProviderField("token", label="Access token (api scope)", secret=True),
        ProviderField("webhook_token", label="Webhook secret token", secret=True),
        api_url_field("https://gitlab.com/api/v4"),
    ),
    triggers=(
        TriggerType("push", "a push to a project", ("project", "branch")),
        TriggerType("merge_request", "a merge request event", ("project", "actions")),
        TriggerType("pipeline", "a pipeline changed status", ("project", "statuses")),
    ),
    actions=("create_issue", "create_merge_request_note"),
    verify=verify,
    max_body_bytes=25 * 1024 * 1024,
    hook_target=hook_target,
)
