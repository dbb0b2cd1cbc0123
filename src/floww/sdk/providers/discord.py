"""Discord's face in user code: application command and component triggers; answering an
interaction and posting to a channel. Rules: ``floww.domain.providers.discord``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from floww.domain.errors import InvalidInput
from floww.domain.providers import discord as rules
from floww.sdk.declarations import check_name
from floww.sdk.providers.base import ApiProvider, json_object, segment, text
from floww.sdk.retry import Retry

__all__ = ["Discord"]

H = TypeVar("H", bound=Callable[..., Any])


class Discord(ApiProvider):
    """Discord: interactions delivered to the workflow's URL (set it as the application's
    Interactions Endpoint URL), and the REST API with the bot token."""

    type = rules.RULES.type
    fields = rules.RULES.fields
    default_api_url = "https://discord.com/api/v10"
    service = "Discord"
    token_field = "bot_token"
    auth_scheme = "Bot"

    def on_command(
        self, name: str | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler for application (slash) command ``name`` (any, if not given).
        Discord is told at once that an answer will follow; give it with
        ``edit_original_response``."""
        return self._trigger("command", {"name": check_name("name", name)} if name else {}, retry)

    def on_component(
        self, custom_id: str | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler when someone uses a message component (only ``custom_id``)."""
        input = {"custom_id": check_name("custom_id", custom_id)} if custom_id else {}
        return self._trigger("component", input, retry)

    async def edit_original_response(
        self, interaction_token: str, content: str, **extra: Any
    ) -> dict[str, Any]:
        """Give the answer to an interaction (its ``token`` in the event's payload); the
        message as Discord returns it. Valid for 15 minutes after the interaction."""
        application_id = self.config.get("application_id", "")
        if not application_id:
            raise InvalidInput(f"provider {self.ref.key} has no application_id set up")
        path = (
            f"/webhooks/{segment('application_id', application_id)}/"
            f"{segment('interaction token', interaction_token)}/messages/@original"
        )
        payload = {**extra, "content": text("content", content)}
        return json_object(self.service, await self._client({}).request("PATCH", path, payload))

    async def send_message(self, channel_id: str, content: str, **extra: Any) -> dict[str, Any]:
        """Post ``content`` to channel ``channel_id`` as the bot; the created message."""
        path = f"/channels/{segment('channel_id', channel_id)}/messages"
        payload = {**extra, "content": text("content", content)}
        return json_object(self.service, await self._client({}).request("POST", path, payload))
