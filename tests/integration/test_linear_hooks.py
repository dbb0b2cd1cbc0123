"""Linear webhooks registered at deploy, against a real ``floww serve`` and the real CLI.

Linear's GraphQL API is played by a loopback stand-in answering ``POST /graphql`` (JSON
``{"query", "variables"}``; the API key in ``Authorization`` as is, else 401 with an
``AUTHENTICATION_ERROR``): the ``webhooks`` query (``nodes``, ``pageInfo``; the secret never
listed back), ``webhookCreate``, ``webhookUpdate`` and ``webhookDelete`` (an unknown id is an
``errors`` entry), telling operations apart by the field the document selects. It does not
parse GraphQL (a misspelt field would pass), nor cover private teams, OAuth applications'
webhooks, rate limits, or Linear's own deliveries (signed here as Linear signs them).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from floww.domain.providers.linear import sign_linear
from tests.integration.lifecycle import client_env, deploy, floww_cli, make_project, server_env
from tests.integration.serving import running_server
from tests.integration.test_provider_hooks import provider_hook

pytestmark = pytest.mark.integration

KEY = "lin_api_standin"
SECRET = "linear-hook-secret"


class LinearStandIn(ThreadingHTTPServer):
    """One Linear workspace whose API key is ``KEY``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.webhooks: list[dict[str, Any]] = []
        self.operations: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: LinearStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, doc: Any) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, code: str = "INVALID_INPUT") -> None:
        self._send(status, {"errors": [{"message": message, "extensions": {"code": code}}]})

    def do_POST(self) -> None:
        if self.path != "/graphql":
            return self._error(404, "Not found")
        if self.headers.get("Authorization") != KEY:
            return self._error(401, "Authentication required", "AUTHENTICATION_ERROR")
        length = int(self.headers.get("Content-Length") or 0)
        doc = json.loads(self.rfile.read(length) or b"null")
        if not isinstance(doc, dict) or not isinstance(doc.get("query"), str):
            return self._error(400, "Must provide query string.")
        query, variables = doc["query"], doc.get("variables") or {}
        found = re.search(r"\b(webhookCreate|webhookUpdate|webhookDelete|webhooks)\b", query)
        if found is None:
            return self._error(400, "Unknown operation")
        operation = found[1]
        self.server.operations.append(operation)
        hooks = self.server.webhooks
        if operation == "webhooks":
            nodes = [{k: v for k, v in h.items() if k != "secret"} for h in hooks]
            page = {"hasNextPage": False, "endCursor": None}
            return self._send(200, {"data": {"webhooks": {"nodes": nodes, "pageInfo": page}}})
        if operation == "webhookCreate":
            entry = variables.get("input") or {}
            if not entry.get("url") or not (entry.get("teamId") or entry.get("allPublicTeams")):
                return self._error(400, "url and teamId or allPublicTeams are required")
            if not set(entry.get("resourceTypes") or ()) <= {"Issue", "Comment"}:
                return self._error(400, "unknown resource type")
            hook = {"id": str(uuid.uuid4()), "enabled": True, **entry}
            hooks.append(hook)
            answer = {"success": True, "webhook": {"id": hook["id"]}}
            return self._send(200, {"data": {"webhookCreate": answer}})
        hook = next((h for h in hooks if h["id"] == variables.get("id")), None)
        if hook is None:
            return self._send(
                200, {"data": None, "errors": [{"message": "Entity not found: Webhook"}]}
            )
        if operation == "webhookUpdate":
            hook.update(variables.get("input") or {})
            return self._send(200, {"data": {"webhookUpdate": {"success": True}}})
        hooks.remove(hook)
        return self._send(200, {"data": {"webhookDelete": {"success": True}}})


@contextmanager
def linear_stand_in() -> Iterator[LinearStandIn]:
    server = LinearStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def code(*, comments: bool) -> str:
    text = """

from floww import Linear

linear = Linear()


@linear.on_issue(actions=["create"])
def on_issue(ctx, event):
    return {"ran": "issue"}
"""
    if comments:
        text += """

@linear.on_comment()
def on_comment(ctx, event):
    return {"ran": "comment"}
"""
    return text


def deliver(url: str, secret: str) -> httpx.Response:
    payload = {
        "type": "Issue",
        "action": "create",
        "data": {"id": uuid.uuid4().hex, "teamId": "t1"},
        "webhookTimestamp": int(time.time() * 1000),
    }
    body = json.dumps(payload).encode()
    headers = {
        "linear-signature": sign_linear(secret, body),
        "linear-delivery": uuid.uuid4().hex,
        "content-type": "application/json",
    }
    return httpx.post(url, content=body, headers=headers, timeout=30)


def _setup(cli: Any, key: str, api_url: str) -> None:
    setup = floww_cli(
        cli,
        "providers",
        "setup",
        "linear",
        "--set",
        f"api_key={key}",
        "--set",
        f"webhook_secret={SECRET}",
        "--set",
        f"api_url={api_url}",
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr


def test_linear_webhook_created_updated_unchanged_removed(tmp_path: Path) -> None:
    env = server_env(
        f"sqlite:///{tmp_path / 'home' / 'floww.db'}",
        register_provider_hooks="true",
        sandbox_egress_allow="127.0.0.1/32",  # the stand-in API on loopback
    )
    with linear_stand_in() as linear, running_server(tmp_path / "home", env=env) as server:
        cli = client_env(server, tmp_path / "client")
        _setup(cli, KEY, linear.url)

        # 1. Created on all public teams, signed with the provider's webhook_secret.
        project = make_project(tmp_path, "tracker", cli, extra=code(comments=False))
        created = provider_hook(deploy(cli, project), "workspace", "linear:default")
        assert created["action"] == "created", created
        [hook] = linear.webhooks
        assert hook["url"] == created["url"] and created["url"].endswith("/linear/default")
        assert hook["allPublicTeams"] is True and hook["secret"] == SECRET
        assert hook["resourceTypes"] == ["Issue"]
        assert deliver(hook["url"], SECRET).json() == {"ok": True}

        # 2. A comment trigger is added: updated, not created twice. 3. Same code: unchanged.
        main = project.path / "main.py"
        base = main.read_text().split("\n\nfrom floww import Linear")[0]
        main.write_text(base + code(comments=True))
        updated = provider_hook(deploy(cli, project), "workspace", "linear:default")
        assert updated["action"] == "updated", updated
        assert [h["resourceTypes"] for h in linear.webhooks] == [["Comment", "Issue"]]
        same = provider_hook(deploy(cli, project), "workspace", "linear:default")
        assert same["action"] == "unchanged", same

        # 4. The last Linear trigger goes: the webhook is deleted.
        main.write_text(base)
        removed = provider_hook(deploy(cli, project), "workspace", "linear:default")
        assert removed["action"] == "removed", removed
        assert linear.webhooks == []
        assert linear.operations.count("webhookCreate") == 1, linear.operations


def test_linear_refusing_the_key_is_reported_and_the_deploy_stands(tmp_path: Path) -> None:
    env = server_env(
        f"sqlite:///{tmp_path / 'home' / 'floww.db'}",
        register_provider_hooks="true",
        sandbox_egress_allow="127.0.0.1/32",  # the stand-in API on loopback
    )
    with linear_stand_in() as linear, running_server(tmp_path / "home", env=env) as server:
        cli = client_env(server, tmp_path / "client")
        _setup(cli, "lin_api_wrong", linear.url)
        project = make_project(tmp_path, "tracker", cli, extra=code(comments=False))
        result = floww_cli(cli, "deploy", "--yes", cwd=project.path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "linear:default webhook on workspace not registered" in result.stderr
        assert "401" in result.stderr and "by hand" in result.stderr, result.stderr
        assert linear.webhooks == []
        url = next(u for u in deploy(cli, project)["webhook_urls"] if "/linear/" in u)
        assert deliver(url.split(" ", 1)[1], SECRET).json() == {"ok": True}
