"""Standard Webhooks in user code: one event trigger for any sender that follows the
specification, and ``send`` to deliver a signed webhook the same way. Rules:
``floww.domain.providers.standard_webhooks``."""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from floww.domain.errors import InvalidInput
from floww.domain.providers import standard_webhooks as rules
from floww.sdk.declarations import check_name
from floww.sdk.http import JsonClient
from floww.sdk.providers.base import Provider
from floww.sdk.retry import Retry

__all__ = ["StandardWebhooks"]

H = TypeVar("H", bound=Callable[..., Any])


class StandardWebhooks(Provider):
    """A sender following standardwebhooks.com (Svix-style ``webhook-*`` headers): set up
    with its ``whsec_`` signing secret."""

    type = rules.RULES.type
    fields = rules.RULES.fields

    def __init__(self, alias: str = "default", *, transport: Any = None) -> None:
        super().__init__(alias)
        self._transport = transport

    def on_event(
        self, types: Sequence[str] = ("*",), *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler for events whose ``type`` is in ``types`` (exact names, families
        such as ``invoice.*``, or ``*``)."""
        if isinstance(types, str) or not types:
            raise InvalidInput("types must be a non-empty list of event types")
        return self._trigger(
            "event", {"types": [check_name("event type", t) for t in types]}, retry
        )

    async def send(self, url: str, event_type: str, data: Any) -> str:
        """Deliver ``{"type", "timestamp", "data"}`` to ``url``, signed with this provider's
        secret as the specification says; the ``webhook-id`` it was sent with."""
        parsed = urllib.parse.urlsplit(url if isinstance(url, str) else "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidInput(f"url must be an http(s) URL, not {url!r}")
        now = int(time.time())
        body = json.dumps(
            {
                "type": check_name("event_type", event_type),
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                "data": data,
            },
            allow_nan=False,
        ).encode()
        webhook_id = "msg_" + secrets.token_hex(12)
        try:
            signature = rules.sign_standard(
                self.config.get("webhook_secret", ""), webhook_id, now, body
            )
        except ValueError:
            raise InvalidInput(f"provider {self.ref.key}'s secret is not whsec_<base64>") from None
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(now),
            "webhook-signature": signature,
        }
        client = JsonClient("Standard Webhooks", url, transport=self._transport)
        await client.request("POST", "", raw=body, headers=headers)
        return webhook_id
