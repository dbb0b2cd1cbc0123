"""Slack's face in user code: message, mention, slash command and interactivity triggers;
posting messages and answering through a ``response_url``. Its rules (signature, bot
filtering, acknowledgements) are ``floww.domain.providers.slack``."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

from floww.domain.errors import InvalidInput, PermissionDenied, Unavailable
from floww.domain.providers import slack as rules
from floww.sdk.declarations import check_name
from floww.sdk.http import JsonClient
from floww.sdk.providers.base import ApiProvider, json_object, text
from floww.sdk.retry import Retry

__all__ = ["Slack"]

H = TypeVar("H", bound=Callable[..., Any])

# Slack error codes that mean the token cannot do this (the Web API answers them with HTTP 200).
_SLACK_DENIED = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
    }
)


class Slack(ApiProvider):
    """Slack: event, slash command and interactivity triggers, and the Web API."""

    type = rules.RULES.type
    fields = rules.RULES.fields
    default_api_url = "https://slack.com/api"
    service = "Slack"
    token_field = "bot_token"

    def on_message(
        self, channel: str | None = None, *, include_bots: bool = False, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler on every message people write where the bot is (only in
        ``channel`` if given). Bots' messages, the app's own included, and edits or deletions
        run it only with ``include_bots=True``: then a handler that posts to its channel runs
        again for its own message, so check ``event.payload`` before answering."""
        input: dict[str, Any] = {}
        if channel is not None:
            input["channel"] = check_name("channel", channel)
        if include_bots:
            input["include_bots"] = True
        return self._trigger("message", input, retry)

    def on_app_mention(
        self, channel: str | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler when a message mentions the app (only in ``channel`` if given)."""
        input: dict[str, Any] = {}
        if channel is not None:
            input["channel"] = check_name("channel", channel)
        return self._trigger("app_mention", input, retry)

    def on_slash_command(self, command: str, *, retry: Retry | None = None) -> Callable[[H], H]:
        """Run the handler for the slash command ``command`` (such as ``/deploy``). Slack gets
        an empty acknowledgement at once; answer with ``respond(event.payload["response_url"],
        ...)``."""
        if not isinstance(command, str) or not command.startswith("/") or len(command) < 2:
            raise InvalidInput(f"a slash command starts with '/', not {command!r}")
        return self._trigger("slash_command", {"command": check_name("command", command)}, retry)

    def on_block_action(
        self, action_id: str | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler when someone uses a button or menu of a message (only the element
        ``action_id`` if given)."""
        input = {"action_id": check_name("action_id", action_id)} if action_id else {}
        return self._trigger("block_actions", input, retry)

    def on_view_submission(
        self, callback_id: str | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler when someone submits a modal (only the view ``callback_id``)."""
        input = {"callback_id": check_name("callback_id", callback_id)} if callback_id else {}
        return self._trigger("view_submission", input, retry)

    async def send_message(self, channel: str, text: str, **extra: Any) -> dict[str, Any]:
        """Post ``text`` to ``channel`` (a name such as ``#deploys`` or an id) with
        ``chat.postMessage``; ``extra`` adds its other arguments (``blocks``, ``thread_ts``,
        ...). Returns the API's answer (``channel``, ``ts``, ``message``).

        Slack's own errors (``{"ok": false, "error": ...}``) raise ``PermissionDenied`` for an
        authentication or scope error, ``Unavailable`` when rate limited, else
        ``InvalidInput("Slack: <error>")``; HTTP failures: see ``floww.sdk.http``."""
        payload = {**extra, "channel": check_name("channel", channel), "text": _text(text)}
        client = self._client({"Accept": "application/json"})
        answer = json_object(
            self.service, await client.request("POST", "/chat.postMessage", payload)
        )
        if answer.get("ok") is not True:
            error = str(answer.get("error") or "unknown_error")
            if error in _SLACK_DENIED:
                raise PermissionDenied(f"Slack: {error}")
            if error == "ratelimited":
                raise Unavailable(f"Slack: {error}")
            raise InvalidInput(f"Slack: {error}")
        return answer

    async def respond(
        self, response_url: str, text: str, *, ephemeral: bool = True, **extra: Any
    ) -> None:
        """Answer a slash command or interaction through its ``response_url`` (valid for 30
        minutes, five uses): only to its user unless ``ephemeral=False``. Needs no token."""
        parsed = urllib.parse.urlsplit(response_url if isinstance(response_url, str) else "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidInput("response_url must be the http(s) URL Slack sent with the event")
        payload = {
            **extra,
            "text": _text(text),
            "response_type": "ephemeral" if ephemeral else "in_channel",
        }
        client = JsonClient(self.service, response_url, transport=self._transport)
        await client.request("POST", "", payload)


def _text(value: object) -> str:
    return text("text", value)
