"""The actions of GitLab, Stripe, Linear, Discord, Jira, Todoist and Standard Webhooks over real
HTTP, against a stand-in on 127.0.0.1 that implements the parts of each provider's documented
API that the actions use: the path and method, how credentials are presented (GitLab, Todoist
and Stripe: ``Bearer``; Linear: the bare API key; Discord: ``Bot``; Jira: Basic email:token),
the body encoding (JSON; form-encoded for Stripe), and the error statuses each documents
(401 bad credentials, 404 unknown object, 400/422 refused input, 429 rate limited). It answers
with the documented shape of a success but holds no real state beyond what a test needs; it does
not reproduce pagination, idempotency keys or every field of the real objects.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from floww import Discord, GitLab, Jira, Linear, StandardWebhooks, Stripe, Todoist
from floww.domain.errors import InvalidInput, NotFound, PermissionDenied, Unavailable
from floww.domain.model import ProviderRef, TriggerSpec
from floww.domain.providers import verify_delivery
from floww.sdk.config import provider_configs

pytestmark = pytest.mark.integration

Answer = tuple[int, Any]
Route = Callable[["Seen"], Answer]


class Seen:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode()))


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        self.seen: list[Seen] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def route(self, method: str, pattern: str, handler: Route) -> None:
        self.routes.append((method, re.compile(pattern), handler))


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = Seen(
            self.command,
            urllib.parse.unquote(self.path),
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length),
        )
        self.server.seen.append(seen)
        for method, pattern, handler in self.server.routes:
            if method == self.command and pattern.fullmatch(self.path):
                status, body = handler(seen)
                break
        else:
            status, body = 404, {"message": "404 Not Found"}
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def run(configs: dict[str, dict[str, str]], action: Callable[[], Any]) -> Any:
    with provider_configs(configs):
        return asyncio.run(action())


def auth_or(expected: str, answer: Answer) -> Route:
    def handle(seen: Seen) -> Answer:
        if seen.headers.get("authorization") != expected:
            return 401, {"message": "401 Unauthorized"}
        return answer

    return handle


def test_gitlab_issue_and_merge_request_note(stand_in: StandIn) -> None:
    stand_in.route(
        "POST",
        r"/api/v4/projects/acme%2Fapi/issues",
        auth_or(
            "Bearer glpat-1", (201, {"iid": 4, "web_url": "https://gitlab/acme/api/-/issues/4"})
        ),
    )
    stand_in.route(
        "POST",
        r"/api/v4/projects/acme%2Fapi/merge_requests/7/notes",
        auth_or("Bearer glpat-1", (201, {"id": 99, "body": "lgtm"})),
    )
    config = {"gitlab:default": {"token": "glpat-1", "api_url": stand_in.url + "/api/v4"}}
    gitlab = GitLab()
    issue = run(config, lambda: gitlab.create_issue("acme/api", "flaky", "seen twice"))
    assert issue["iid"] == 4
    assert stand_in.seen[-1].json() == {"title": "flaky", "description": "seen twice"}
    note = run(config, lambda: gitlab.create_merge_request_note("acme/api", 7, "lgtm"))
    assert note["body"] == "lgtm"
    with pytest.raises(NotFound):
        run(config, lambda: gitlab.create_issue("acme/other", "x"))
    wrong = {"gitlab:default": {**config["gitlab:default"], "token": "nope"}}
    with pytest.raises(PermissionDenied):
        run(wrong, lambda: gitlab.create_issue("acme/api", "x"))


def test_stripe_sends_forms_with_the_secret_key(stand_in: StandIn) -> None:
    def refund(seen: Seen) -> Answer:
        if seen.headers.get("authorization") != "Bearer sk_test_1":
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}
        if seen.headers.get("content-type") != "application/x-www-form-urlencoded":
            return 400, {"error": {"message": "form bodies only"}}
        if seen.form().get("payment_intent") != "pi_1":
            return 404, {"error": {"message": "No such payment_intent"}}
        return 200, {"id": "re_1", "object": "refund", "amount": int(seen.form()["amount"])}

    stand_in.route("POST", r"/v1/refunds", refund)
    stand_in.route(
        "GET", r"/v1/customers/cus_1", auth_or("Bearer sk_test_1", (200, {"id": "cus_1"}))
    )
    stand_in.route(
        "POST", r"/v1/customers/cus_1", lambda seen: (200, {"id": "cus_1", "metadata": seen.form()})
    )
    stand_in.route(
        "GET",
        r"/v1/customers/cus_busy",
        lambda seen: (429, {"error": {"message": "Too many requests"}}),
    )
    config = {"stripe:default": {"secret_key": "sk_test_1", "api_url": stand_in.url}}
    stripe = Stripe()
    assert run(config, lambda: stripe.create_refund("pi_1", amount=250))["amount"] == 250
    assert stand_in.seen[-1].form() == {"payment_intent": "pi_1", "amount": "250"}
    assert run(config, lambda: stripe.retrieve("customers", "cus_1")) == {"id": "cus_1"}
    updated = run(config, lambda: stripe.update_metadata("customers", "cus_1", {"plan": "pro"}))
    assert updated["metadata"] == {"metadata[plan]": "pro"}
    with pytest.raises(NotFound):
        run(config, lambda: stripe.create_refund("pi_missing"))
    with pytest.raises(Unavailable):
        run(config, lambda: stripe.retrieve("customers", "cus_busy"))
    with pytest.raises(InvalidInput):
        run(config, lambda: stripe.retrieve("secrets", "x"))


def test_linear_graphql_with_the_bare_api_key(stand_in: StandIn) -> None:
    def graphql(seen: Seen) -> Answer:
        if seen.headers.get("authorization") != "lin_api_1":
            return 200, {
                "errors": [
                    {
                        "message": "Authentication required",
                        "extensions": {"code": "AUTHENTICATION_ERROR"},
                    }
                ]
            }
        doc = seen.json()
        if "issueCreate" in doc["query"]:
            if not doc["variables"]["input"]["teamId"].startswith("team"):
                return 200, {"errors": [{"message": "Entity not found: Team"}]}
            return 200, {
                "data": {
                    "issueCreate": {
                        "success": True,
                        "issue": {"id": "i1", "identifier": "ENG-1", "title": "t", "url": "u"},
                    }
                }
            }
        return 200, {
            "data": {
                "commentCreate": {"success": True, "comment": {"id": "c1", "body": "b", "url": "u"}}
            }
        }

    stand_in.route("POST", r"/graphql", graphql)
    config = {"linear:default": {"api_key": "lin_api_1", "api_url": stand_in.url}}
    linear = Linear()
    assert run(config, lambda: linear.create_issue("team-1", "t"))["identifier"] == "ENG-1"
    assert run(config, lambda: linear.create_comment("i1", "b"))["id"] == "c1"
    with pytest.raises(InvalidInput, match="Entity not found"):
        run(config, lambda: linear.create_issue("nope", "t"))
    with pytest.raises(PermissionDenied):
        run(
            {"linear:default": {"api_key": "x", "api_url": stand_in.url}},
            lambda: linear.create_comment("i1", "b"),
        )


def test_discord_answers_an_interaction_and_posts_as_the_bot(stand_in: StandIn) -> None:
    stand_in.route(
        "PATCH",
        r"/api/v10/webhooks/app-1/tok-1/messages/@original",
        lambda seen: (200, {"id": "m1", "content": seen.json()["content"]}),
    )
    stand_in.route(
        "POST",
        r"/api/v10/channels/c-1/messages",
        auth_or("Bot bot-1", (200, {"id": "m2", "channel_id": "c-1"})),
    )
    config = {
        "discord:default": {
            "application_id": "app-1",
            "public_key": "00",
            "bot_token": "bot-1",
            "api_url": stand_in.url + "/api/v10",
        }
    }
    discord = Discord()
    assert (
        run(config, lambda: discord.edit_original_response("tok-1", "deployed"))["content"]
        == "deployed"
    )
    assert run(config, lambda: discord.send_message("c-1", "hi"))["id"] == "m2"
    with pytest.raises(NotFound):
        run(config, lambda: discord.send_message("c-2", "hi"))


def test_jira_uses_basic_auth_and_documents(stand_in: StandIn) -> None:
    basic = "Basic " + base64.b64encode(b"ada@acme.io:jira-token").decode()
    stand_in.route(
        "POST", r"/rest/api/3/issue", auth_or(basic, (201, {"id": "10", "key": "OPS-1"}))
    )
    stand_in.route("POST", r"/rest/api/3/issue/OPS-1/comment", auth_or(basic, (201, {"id": "5"})))
    stand_in.route(
        "POST",
        r"/rest/api/3/issue/OPS-404/comment",
        lambda seen: (404, {"errorMessages": ["Issue does not exist"]}),
    )
    config = {
        "jira:default": {
            "site_url": stand_in.url,
            "email": "ada@acme.io",
            "api_token": "jira-token",
            "webhook_secret": "s",
        }
    }
    jira = Jira()
    assert (
        run(config, lambda: jira.create_issue("OPS", "broken", "line one\nline two"))["key"]
        == "OPS-1"
    )
    fields = stand_in.seen[-1].json()["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Task"}
    assert len(fields["description"]["content"]) == 2
    assert run(config, lambda: jira.add_comment("OPS-1", "on it"))["id"] == "5"
    with pytest.raises(NotFound):
        run(config, lambda: jira.add_comment("OPS-404", "x"))
    with pytest.raises(PermissionDenied):
        run(
            {"jira:default": {**config["jira:default"], "api_token": "bad"}},
            lambda: jira.add_comment("OPS-1", "x"),
        )


def test_todoist_tasks(stand_in: StandIn) -> None:
    stand_in.route(
        "POST",
        r"/rest/v2/tasks",
        auth_or("Bearer td-1", (200, {"id": "t1", "content": "buy milk"})),
    )
    stand_in.route("POST", r"/rest/v2/tasks/t1/close", auth_or("Bearer td-1", (204, None)))
    config = {"todoist:default": {"api_token": "td-1", "api_url": stand_in.url + "/rest/v2"}}
    todoist = Todoist()
    assert run(config, lambda: todoist.create_task("buy milk", due_string="tomorrow"))["id"] == "t1"
    assert stand_in.seen[-1].json() == {"content": "buy milk", "due_string": "tomorrow"}
    assert run(config, lambda: todoist.close_task("t1")) is None
    with pytest.raises(NotFound):
        run(config, lambda: todoist.close_task("t2"))


def test_standard_webhooks_send_is_verified_by_the_receiving_rules(stand_in: StandIn) -> None:
    stand_in.route("POST", r"/hooks", lambda seen: (204, None))
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    config = {"standard_webhooks:default": {"webhook_secret": secret}}
    sender = StandardWebhooks()
    webhook_id = run(
        config, lambda: sender.send(stand_in.url + "/hooks", "user.created", {"id": 1})
    )
    seen = stand_in.seen[-1]
    assert seen.headers["webhook-id"] == webhook_id
    # What floww sends, floww's own receiving rules accept.
    from datetime import UTC, datetime

    spec = TriggerSpec(ProviderRef("standard_webhooks"), "event", {"types": ["user.*"]})
    delivery = verify_delivery(
        spec, {"webhook_secret": secret}, seen.headers, seen.body, datetime.now(UTC)
    )
    assert delivery.event["payload"]["data"] == {"id": 1}
    with pytest.raises(InvalidInput):
        run(
            {"standard_webhooks:default": {"webhook_secret": "whsec_!!"}},
            lambda: sender.send(stand_in.url + "/hooks", "x", {}),
        )
