"""Provider events' conveniences, and provider API actions over an injected transport (no I/O)."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import Any

import pytest

from floww import GitHub, ProviderEvent, Slack
from floww.domain.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProviderNotConfigured,
    Unavailable,
)
from floww.domain.model import ProviderRef, TriggerSpec
from floww.sdk.catalog import fields_for
from floww.sdk.config import provider_configs
from floww.sdk.events import event_from_wire

PUSH_PAYLOAD: dict[str, Any] = {
    "ref": "refs/heads/main",
    "before": "a" * 40,
    "after": "b" * 40,
    "repository": {"id": 1, "name": "api", "full_name": "acme/api"},
    "pusher": {"name": "ada", "email": "ada@example.com"},
    "sender": {"login": "ada-l"},
    "commits": [{"id": "b" * 40, "message": "fix"}],
    "head_commit": {"id": "b" * 40, "message": "fix"},
}
MESSAGE_PAYLOAD: dict[str, Any] = {
    "type": "event_callback",
    "event_id": "Ev1",
    "event": {
        "type": "message",
        "user": "U1",
        "channel": "C1",
        "text": "hello",
        "ts": "1700000000.000100",
    },
}
PUSH = TriggerSpec(ProviderRef("github"), "push", {"owner": "acme", "repository": "api"})
MESSAGE = TriggerSpec(ProviderRef("slack", "ops"), "message", {})


# events -------------------------------------------------------------------------------------


def test_push_event_conveniences() -> None:
    event = ProviderEvent("push", PUSH_PAYLOAD)
    assert event.pusher == "ada"
    assert event.ref == "refs/heads/main"
    assert event.branch == "main"
    assert event.repository == "acme/api"
    assert event.commits == [{"id": "b" * 40, "message": "fix"}]
    assert event.head_commit == {"id": "b" * 40, "message": "fix"}


def test_push_of_a_tag_has_no_branch_and_missing_parts_read_as_none() -> None:
    event = ProviderEvent("push", {"ref": "refs/tags/v1", "commits": "junk"})
    assert event.ref == "refs/tags/v1"
    assert event.branch is None
    assert event.pusher is None
    assert event.repository is None
    assert event.commits == []
    assert event.head_commit is None


def test_slack_message_conveniences_read_the_envelopes_event() -> None:
    event = ProviderEvent("message", MESSAGE_PAYLOAD)
    assert (event.user, event.channel, event.text, event.ts) == (
        "U1",
        "C1",
        "hello",
        "1700000000.000100",
    )
    bare = ProviderEvent("message", {"user": "U2", "channel": "C2", "text": "hi", "ts": "1.2"})
    assert (bare.user, bare.channel, bare.text, bare.ts) == ("U2", "C2", "hi", "1.2")


def test_unknown_attribute_names_what_is_available() -> None:
    with pytest.raises(AttributeError, match=r"'pusher_name'.*available: type, payload.*pusher"):
        _ = ProviderEvent("push", PUSH_PAYLOAD).pusher_name
    with pytest.raises(AttributeError, match=r"available: type, payload, to_wire$"):
        _ = ProviderEvent("issues", {"action": "opened"}).pusher
    # a push's conveniences are not a message's
    with pytest.raises(AttributeError, match=r"'pusher'.*user, channel, text, ts"):
        _ = ProviderEvent("message", MESSAGE_PAYLOAD).pusher
    assert not hasattr(ProviderEvent("push", {}), "_private")
    assert {"pusher", "branch"} <= set(dir(ProviderEvent("push", {})))


@pytest.mark.parametrize(
    ("spec", "event"),
    [(PUSH, ProviderEvent("push", PUSH_PAYLOAD)), (MESSAGE, ProviderEvent("message", {}))],
)
def test_wire_form_is_unchanged_and_round_trips(spec: TriggerSpec, event: ProviderEvent) -> None:
    wire = json.loads(json.dumps(event.to_wire()))
    assert set(wire) == {"type", "payload"}
    assert wire == {"type": event.type, "payload": event.payload}
    again = event_from_wire(spec, wire)
    assert again == event
    assert isinstance(again, ProviderEvent)


# provider actions over a recording transport ------------------------------------------------

Reply = Callable[[urllib.request.Request], bytes]


class Recorder:
    """A transport that records each request and answers with ``reply``."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[urllib.request.Request] = []

    def __call__(self, request: urllib.request.Request, timeout: float) -> bytes:
        assert timeout > 0
        self.requests.append(request)
        return self.reply(request)

    def body(self, index: int = -1) -> Any:
        data = self.requests[index].data
        assert isinstance(data, bytes)
        return json.loads(data)

    def header(self, name: str, index: int = -1) -> str | None:
        return self.requests[index].get_header(name.capitalize())


def answer(doc: Any) -> Reply:
    return lambda _request: json.dumps(doc).encode()


def fail(status: int, doc: Any = None, headers: dict[str, str] | None = None) -> Reply:
    def reply(request: urllib.request.Request) -> bytes:
        head = Message()
        for name, value in (headers or {}).items():
            head[name] = value
        raw = json.dumps(doc).encode() if doc is not None else b""
        raise urllib.error.HTTPError(request.full_url, status, "err", head, io.BytesIO(raw))

    return reply


SLACK = {"slack:ops": {"bot_token": "xoxb-secret-1", "signing_secret": "s"}}
GITHUB = {"github:default": {"token": "ghp-secret-1", "webhook_secret": "w"}}


def run(configs: dict[str, dict[str, str]], action: Callable[[], Any]) -> Any:
    with provider_configs(configs):
        return asyncio.run(action())


def test_send_message_posts_json_with_the_bot_token() -> None:
    transport = Recorder(answer({"ok": True, "channel": "C1", "ts": "1.5"}))
    slack = Slack("ops", transport=transport)
    result = run(SLACK, lambda: slack.send_message("#deploys", "ada pushed", thread_ts="1.0"))
    assert result == {"ok": True, "channel": "C1", "ts": "1.5"}
    request = transport.requests[0]
    assert (request.get_method(), request.full_url) == (
        "POST",
        "https://slack.com/api/chat.postMessage",
    )
    assert transport.header("authorization") == "Bearer xoxb-secret-1"
    assert transport.header("content-type") == "application/json; charset=utf-8"
    assert transport.body() == {"channel": "#deploys", "text": "ada pushed", "thread_ts": "1.0"}


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        ("channel_not_found", InvalidInput),
        ("invalid_auth", PermissionDenied),
        ("missing_scope", PermissionDenied),
        ("ratelimited", Unavailable),
    ],
)
def test_slack_api_errors_become_domain_errors(error: str, raised: type[Exception]) -> None:
    slack = Slack("ops", transport=Recorder(answer({"ok": False, "error": error})))
    with pytest.raises(raised, match=f"^Slack: {error}$"):
        run(SLACK, lambda: slack.send_message("#nope", "x"))


def test_api_url_from_the_config_replaces_the_public_api() -> None:
    transport = Recorder(answer({"ok": True}))
    slack = Slack("ops", transport=transport)
    configs = {"slack:ops": {**SLACK["slack:ops"], "api_url": "http://127.0.0.1:9/api/"}}
    run(configs, lambda: slack.send_message("C1", "x"))
    assert transport.requests[0].full_url == "http://127.0.0.1:9/api/chat.postMessage"
    for bad in ("file:///etc/passwd", "ftp://x/", "slack.com/api"):
        configs = {"slack:ops": {**SLACK["slack:ops"], "api_url": bad}}
        with pytest.raises(InvalidInput, match="api_url must be an http"):
            run(configs, lambda: slack.send_message("C1", "x"))
    assert len(transport.requests) == 1


def test_create_issue_and_comment_follow_the_rest_api() -> None:
    transport = Recorder(answer({"number": 7, "html_url": "https://github.com/acme/api/issues/7"}))
    github = GitHub(transport=transport)
    issue = run(GITHUB, lambda: github.create_issue("acme", "api", "flaky", body="see logs"))
    assert issue["number"] == 7
    run(GITHUB, lambda: github.create_comment("acme", "api", 7, "on it"))
    first, second = transport.requests
    assert first.full_url == "https://api.github.com/repos/acme/api/issues"
    assert second.full_url == "https://api.github.com/repos/acme/api/issues/7/comments"
    assert transport.body(0) == {"title": "flaky", "body": "see logs"}
    assert transport.body(1) == {"body": "on it"}
    for index in (0, 1):
        assert transport.header("authorization", index) == "Bearer ghp-secret-1"
        assert transport.header("accept", index) == "application/vnd.github+json"


def test_github_enterprise_base_and_quoted_path() -> None:
    transport = Recorder(answer({"number": 1}))
    github = GitHub(transport=transport)
    configs = {"github:default": {"token": "t", "api_url": "https://ghe.example/api/v3"}}
    run(configs, lambda: github.create_issue("acme", "a/b", "t"))
    assert transport.requests[0].full_url == "https://ghe.example/api/v3/repos/acme/a%2Fb/issues"


@pytest.mark.parametrize(
    ("reply", "raised", "text"),
    [
        (fail(401, {"message": "Bad credentials"}), PermissionDenied, "Bad credentials"),
        (fail(403, {"message": "Resource not accessible"}), PermissionDenied, "not accessible"),
        (
            fail(403, {"message": "API rate limit"}, {"x-ratelimit-remaining": "0"}),
            Unavailable,
            "rate limit",
        ),
        (fail(404, {"message": "Not Found"}), NotFound, "repos/acme/api/issues"),
        (
            fail(422, {"message": "Validation Failed", "errors": [{"field": "title"}]}),
            InvalidInput,
            "Validation Failed: title",
        ),
        (fail(429), Unavailable, "429"),
        (fail(502, {"message": "bad gateway"}), Unavailable, "bad gateway"),
        (lambda r: b"<html>", Unavailable, "not JSON"),
        (lambda r: b"[]", Unavailable, "not a JSON object"),
    ],
)
def test_github_failures_become_domain_errors(
    reply: Reply, raised: type[Exception], text: str
) -> None:
    github = GitHub(transport=Recorder(reply))
    with pytest.raises(raised, match=text) as info:
        run(GITHUB, lambda: github.create_issue("acme", "api", "t"))
    assert "ghp-secret-1" not in str(info.value)


def test_network_failures_are_unavailable() -> None:
    def unreachable(request: urllib.request.Request) -> bytes:
        raise urllib.error.URLError(ConnectionRefusedError(111, "refused"))

    def slow(request: urllib.request.Request) -> bytes:
        raise TimeoutError("timed out")

    for reply in (unreachable, slow):
        slack = Slack("ops", transport=Recorder(reply))
        with pytest.raises(Unavailable, match="Slack unreachable"):
            run(SLACK, lambda: slack.send_message("C1", "x"))  # noqa: B023


def test_credentials_come_only_from_the_invocation() -> None:
    transport = Recorder(answer({"ok": True}))
    slack = Slack("ops", transport=transport)
    with pytest.raises(ProviderNotConfigured):
        asyncio.run(slack.send_message("C1", "x"))
    with pytest.raises(ProviderNotConfigured):
        run(GITHUB, lambda: slack.send_message("C1", "x"))
    with pytest.raises(InvalidInput, match="slack:ops has no bot_token"):
        run({"slack:ops": {"bot_token": ""}}, lambda: slack.send_message("C1", "x"))
    assert transport.requests == []


def test_bad_arguments_are_refused_before_any_request() -> None:
    transport = Recorder(answer({}))
    github, slack = GitHub(transport=transport), Slack("ops", transport=transport)
    calls: list[Callable[[], Any]] = [
        lambda: slack.send_message("", "x"),
        lambda: slack.send_message("C1", None),  # type: ignore[arg-type]
        lambda: slack.send_message("C1", "x", blocks=object()),
        lambda: github.create_issue("acme", "", "t"),
        lambda: github.create_issue("acme", "api", " "),
        lambda: github.create_comment("acme", "api", 0, "x"),
        lambda: github.create_comment("acme", "api", True, "x"),
        lambda: github.create_comment("acme", "api", 3, ""),
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            run({**SLACK, **GITHUB}, call)
    assert transport.requests == []


def test_an_awaited_call_does_not_block_the_event_loop() -> None:
    """The transport waits for a coroutine on the loop: it only finishes if the call runs on
    another thread (the wait is bounded, so a blocked loop fails instead of hanging)."""
    released = threading.Event()

    def waits(request: urllib.request.Request) -> bytes:
        assert released.wait(timeout=5), "the event loop was blocked by the HTTP call"
        return b'{"ok": true}'

    slack = Slack("ops", transport=Recorder(waits))

    async def both() -> Any:
        async def release() -> None:
            await asyncio.sleep(0)
            released.set()

        sent, _ = await asyncio.gather(slack.send_message("C1", "x"), release())
        return sent

    assert run(SLACK, both) == {"ok": True}


def test_api_url_is_an_optional_plain_field() -> None:
    for provider_type in ("github", "slack"):
        field = {f.name: f for f in fields_for(provider_type)}["api_url"]
        assert (field.required, field.secret) == (False, False)
