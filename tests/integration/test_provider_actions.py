"""Provider actions over real HTTP, run the way a function host runs them.

Slack and GitHub cannot be reached here, so a stand-in server on 127.0.0.1 implements their
documented HTTP contract: Slack's Web API ``chat.postMessage`` (bearer bot token, JSON body,
HTTP 200 with ``{"ok": true, "channel", "ts", "message"}`` or ``{"ok": false, "error"}`` such
as ``channel_not_found`` / ``invalid_auth``) and GitHub's REST v3 "create an issue" and "create
an issue comment" (bearer token, ``201`` with the created object, ``401 Bad credentials``,
``404 Not Found``, ``422 Validation Failed``). The providers are pointed at it through the
optional ``api_url`` of their configs, exactly as a GitHub Enterprise user would.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from floww.domain.model import CodeBundle, ProviderRef, TriggerSpec
from floww.sdk.collector import bundle_from_directory
from floww.sdk.kv import InMemoryKvBackend
from floww.sdk.runtime import Runtime
from floww.sdk.wire import code_to_wire, spec_to_wire

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "github_to_slack"
SLACK_TOKEN = "xoxb-stand-in-token"
GITHUB_TOKEN = "ghp_stand_in_token"

PUSH_EVENT = {
    "type": "push",
    "payload": {
        "ref": "refs/heads/main",
        "repository": {"name": "api", "full_name": "acme/api", "owner": {"login": "acme"}},
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "sender": {"login": "ada-l"},
        "commits": [{"id": "c0ffee", "message": "ship it"}],
        "head_commit": {"id": "c0ffee", "message": "ship it"},
    },
}
PUSH = TriggerSpec(
    ProviderRef("github"), "push", {"owner": "acme", "repository": "api", "branch": "main"}
)

ISSUES_CODE = """
from floww import Builtin, GitHub

builtin = Builtin()
github = GitHub()

@builtin.manual("file_issue")
async def file_issue(ctx, event):
    repository = event.input.get("repository", "api")
    issue = await github.create_issue("acme", repository, title=event.input["title"], body="seen")
    comment = await github.create_comment("acme", repository, issue["number"], "on it")
    return {"number": issue["number"], "url": issue["html_url"], "comment": comment["body"]}
"""


class StandIn(ThreadingHTTPServer):
    """What the stand-in knows (channels, repositories) and what it received."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.channels = {"#deploys": "C0DEPLOYS"}
        self.repositories = {("acme", "api")}
        self.messages: list[dict[str, Any]] = []
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.server.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            body = None
        if self.path == "/slack/api/chat.postMessage":
            self._slack(body)
            return
        issue = re.fullmatch(r"/github/repos/([^/]+)/([^/]+)/issues", self.path)
        comment = re.fullmatch(r"/github/repos/([^/]+)/([^/]+)/issues/(\d+)/comments", self.path)
        if issue:
            self._create_issue((issue[1], issue[2]), body)
        elif comment:
            self._create_comment((comment[1], comment[2]), int(comment[3]), body)
        else:
            self._send(404, {"message": "Not Found"})

    def _slack(self, body: Any) -> None:
        # Slack answers HTTP 200 for its own errors and names them in "error".
        auth = self.headers.get("Authorization")
        if not auth:
            return self._send(200, {"ok": False, "error": "not_authed"})
        if auth != f"Bearer {SLACK_TOKEN}":
            return self._send(200, {"ok": False, "error": "invalid_auth"})
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self._send(200, {"ok": False, "error": "invalid_form_data"})
        if not isinstance(body, dict):
            return self._send(200, {"ok": False, "error": "invalid_json"})
        channel = self.server.channels.get(body.get("channel", ""))
        if channel is None:
            return self._send(200, {"ok": False, "error": "channel_not_found"})
        if not body.get("text") and not body.get("blocks"):
            return self._send(200, {"ok": False, "error": "no_text"})
        ts = f"1700000000.{len(self.server.messages) + 1:06d}"
        message = {"type": "message", "text": body.get("text", ""), "bot_id": "B01", "ts": ts}
        self.server.messages.append({"channel_id": channel, **body})
        return self._send(200, {"ok": True, "channel": channel, "ts": ts, "message": message})

    def _github_denied(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            self._send(401, {"message": "Bad credentials", "documentation_url": "https://docs"})
            return True
        return False

    def _create_issue(self, repo: tuple[str, str], body: Any) -> None:
        if self._github_denied():
            return
        if repo not in self.server.repositories:
            return self._send(404, {"message": "Not Found"})
        if not isinstance(body, dict) or not body.get("title"):
            error = {"resource": "Issue", "code": "missing_field", "field": "title"}
            return self._send(422, {"message": "Validation Failed", "errors": [error]})
        number = len(self.server.issues) + 1
        html = f"https://github.example/{repo[0]}/{repo[1]}/issues/{number}"
        issue = {
            "id": 1000 + number,
            "number": number,
            "title": body["title"],
            "body": body.get("body"),
            "state": "open",
            "html_url": html,
        }
        self.server.issues[number] = issue
        return self._send(201, issue)

    def _create_comment(self, repo: tuple[str, str], number: int, body: Any) -> None:
        if self._github_denied():
            return
        if repo not in self.server.repositories or number not in self.server.issues:
            return self._send(404, {"message": "Not Found"})
        if not isinstance(body, dict) or not body.get("body"):
            error = {"resource": "IssueComment", "code": "missing_field", "field": "body"}
            return self._send(422, {"message": "Validation Failed", "errors": [error]})
        comment = {"id": 5000 + len(self.server.comments), "body": body["body"]}
        self.server.comments.append({"issue": number, **comment})
        return self._send(201, comment)

    def _send(self, status: int, doc: Any) -> None:
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _providers(
    stand_in: StandIn, *, slack_token: str = SLACK_TOKEN, github_token: str = GITHUB_TOKEN
) -> dict[str, Any]:
    return {
        "github:default": {
            "token": github_token,
            "webhook_secret": "w",
            "api_url": f"{stand_in.url}/github",
        },
        "slack:ops": {
            "bot_token": slack_token,
            "signing_secret": "s",
            "api_url": f"{stand_in.url}/slack/api",
        },
    }


def _invoke(
    tmp_path: Path,
    code: CodeBundle,
    trigger: TriggerSpec,
    event: dict[str, Any],
    providers: dict[str, Any],
) -> dict[str, Any]:
    request = {
        "type": "invoke_trigger",
        "code": code_to_wire(code),
        "trigger": spec_to_wire(trigger),
        "event": event,
        "providers": providers,
        "execution": {"id": "ex1", "token": "t", "api_url": "http://unused", "deadline_ms": 20000},
    }
    answer = Runtime(cache_root=tmp_path / "cache").handle(
        json.loads(json.dumps(request)), kv_backend=InMemoryKvBackend()
    )
    json.dumps(answer)  # the answer travels as JSON
    return answer


def _example() -> CodeBundle:
    return bundle_from_directory(EXAMPLE, "main.py")


def test_push_is_announced_in_slack_with_the_pushers_name(
    tmp_path: Path, stand_in: StandIn
) -> None:
    answer = _invoke(tmp_path, _example(), PUSH, PUSH_EVENT, _providers(stand_in))
    assert answer["ok"] is True, answer
    assert stand_in.messages == [
        {"channel_id": "C0DEPLOYS", "channel": "#deploys", "text": "ada pushed"}
    ]
    assert answer["result"]["ok"] is True
    assert answer["result"]["channel"] == "C0DEPLOYS"
    headers = stand_in.headers_seen[-1]
    assert headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert headers["content-type"].startswith("application/json")


def test_a_bad_slack_token_fails_the_invocation_with_permission_denied(
    tmp_path: Path, stand_in: StandIn
) -> None:
    providers = _providers(stand_in, slack_token="xoxb-revoked")
    answer = _invoke(tmp_path, _example(), PUSH, PUSH_EVENT, providers)
    assert answer["ok"] is False
    assert answer["error"]["type"] == "PermissionDenied"
    assert "invalid_auth" in answer["error"]["message"]
    assert "xoxb-revoked" not in json.dumps(answer)
    assert stand_in.messages == []


def test_an_unknown_channel_fails_the_invocation_with_invalid_input(
    tmp_path: Path, stand_in: StandIn
) -> None:
    stand_in.channels = {"#general": "C0GENERAL"}
    answer = _invoke(tmp_path, _example(), PUSH, PUSH_EVENT, _providers(stand_in))
    assert answer["ok"] is False
    assert answer["error"]["type"] == "InvalidInput"
    assert "channel_not_found" in answer["error"]["message"]
    assert "main.py" in answer["error"]["traceback"]  # points at the user's line


def test_github_issue_and_comment_are_created(tmp_path: Path, stand_in: StandIn) -> None:
    code = CodeBundle("main.py", {"main.py": ISSUES_CODE})
    manual = TriggerSpec(ProviderRef("builtin"), "manual", {"name": "file_issue"})
    event = {"input": {"title": "flaky deploy"}, "triggered_by": "u1"}
    answer = _invoke(tmp_path, code, manual, event, _providers(stand_in))
    assert answer["ok"] is True, answer
    assert answer["result"] == {
        "number": 1,
        "url": "https://github.example/acme/api/issues/1",
        "comment": "on it",
    }
    assert stand_in.issues[1]["title"] == "flaky deploy"
    assert stand_in.comments == [{"issue": 1, "id": 5000, "body": "on it"}]
    for headers in stand_in.headers_seen:
        assert headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
        assert headers["accept"] == "application/vnd.github+json"


def test_github_bad_token_and_validation_errors(tmp_path: Path, stand_in: StandIn) -> None:
    code = CodeBundle("main.py", {"main.py": ISSUES_CODE})
    manual = TriggerSpec(ProviderRef("builtin"), "manual", {"name": "file_issue"})
    denied = _invoke(
        tmp_path, code, manual, {"input": {"title": "x"}}, _providers(stand_in, github_token="no")
    )
    assert denied["ok"] is False
    assert denied["error"]["type"] == "PermissionDenied"
    assert "Bad credentials" in denied["error"]["message"]
    unknown = {"input": {"title": "x", "repository": "gone"}}
    missing = _invoke(tmp_path, code, manual, unknown, _providers(stand_in))
    assert missing["ok"] is False
    assert missing["error"]["type"] == "NotFound"
    assert "/repos/acme/gone/issues" in missing["error"]["message"]
    invalid = _invoke(tmp_path, code, manual, {"input": {"title": ""}}, _providers(stand_in))
    assert invalid["ok"] is False
    assert invalid["error"]["type"] == "InvalidInput"  # refused before any request
    assert stand_in.issues == {}
    assert len(stand_in.headers_seen) == 2  # the denied and the missing one


def test_an_unreachable_api_is_unavailable(tmp_path: Path, stand_in: StandIn) -> None:
    providers = _providers(stand_in)
    stand_in.shutdown()
    stand_in.server_close()
    answer = _invoke(tmp_path, _example(), PUSH, PUSH_EVENT, providers)
    assert answer["ok"] is False
    assert answer["error"]["type"] == "Unavailable"
