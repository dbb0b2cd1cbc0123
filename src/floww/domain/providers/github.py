"""GitHub: repository webhooks signed with HMAC-SHA256 of the raw body under the webhook secret
(``X-Hub-Signature-256: sha256=<hex>``), named by ``X-GitHub-Event``. Neither the delivery id
header nor a timestamp is signed, so deliveries are deduplicated on the signed body's digest (a
replay under a new id runs nothing).

A delivery is JSON, or a form whose ``payload`` field is the JSON (both content types GitHub's
settings offer; the signature covers the raw body either way). A trigger runs only for its
repository (``owner/repository``, compared as GitHub does, without regard to case) and for its
other filters: the branch of a push, the ``action`` of a pull request or issue event. GitHub
sends up to 25 MB per delivery.
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
    body_id,
    content_type,
    form_fields,
    json_body,
    one_of,
    same,
)

__all__ = ["RULES", "hook_target", "sign_github"]


def sign_github(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _payload(headers: Mapping[str, str], body: bytes) -> Any:
    if content_type(headers) != "application/x-www-form-urlencoded":
        return json_body(body, "GitHub")
    fields = form_fields(body, "GitHub")
    if "payload" not in fields:
        raise Unauthenticated("GitHub form delivery has no payload field")
    return json_body(fields["payload"].encode("utf-8"), "GitHub")


def _repository(payload: Any) -> str | None:
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


def verify(
    spec: TriggerSpec,
    config: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Delivery:
    secret = config.get("webhook_secret", "")
    given = headers.get("x-hub-signature-256", "")
    if not secret or not same(given, sign_github(secret, body)):
        raise Unauthenticated("GitHub signature does not match the webhook secret")
    kind = headers.get("x-github-event", "")
    delivery_id = headers.get("x-github-delivery")
    if kind == "ping":
        return Delivery(reply={"ok": True, "pong": True}, delivery_id=delivery_id)
    payload = _payload(headers, body)
    if kind != spec.trigger_type:
        return Delivery(ignored=f"GitHub event {kind!r} is not {spec.trigger_type!r}")
    wanted = f"{spec.input.get('owner', '')}/{spec.input.get('repository', '')}".lower()
    about = _repository(payload)
    if about != wanted:
        return Delivery(ignored=f"delivery for repository {about!r}, not {wanted!r}")
    if not isinstance(payload, dict):
        return Delivery(ignored="GitHub payload is not an object")
    branch = spec.input.get("branch")
    if branch and payload.get("ref") != f"refs/heads/{branch}":
        return Delivery(ignored=f"push to {payload.get('ref')!r}, not to branch {branch!r}")
    if not one_of(payload.get("action"), spec.input.get("actions")):
        return Delivery(ignored=f"{kind} action {payload.get('action')!r} is not wanted")
    return Delivery(event={"type": kind, "payload": payload}, delivery_id=body_id(body))


def hook_target(spec: TriggerSpec) -> tuple[str, str] | None:
    """A trigger's repository hook: ``owner/name`` and the GitHub event (the trigger type)."""
    owner, repository = spec.input.get("owner"), spec.input.get("repository")
    if not owner or not repository:
        return None
    return f"{owner}/{repository}", spec.trigger_type


RULES = ProviderRules(
    type="github",
    title="GitHub",
    fields=(
        ProviderField("token", label="Personal access token", secret=True),
        ProviderField("webhook_secret", label="Webhook secret", secret=True),
        api_url_field("https://api.github.com"),
    ),
    triggers=(
        TriggerType("push", "a push to a repository", ("owner", "repository", "branch")),
        TriggerType("pull_request", "a pull request event", ("owner", "repository", "actions")),
        TriggerType("issues", "an issue event", ("owner", "repository", "actions")),
    ),
    actions=("create_issue", "create_comment"),
    verify=verify,
    max_body_bytes=25 * 1024 * 1024,
    hook_target=hook_target,
)
