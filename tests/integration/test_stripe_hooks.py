"""Stripe webhook endpoints registered at deploy, against a real ``floww serve`` and the real
CLI.

Stripe's API is played by a loopback stand-in implementing the documented shapes of
``/v1/webhook_endpoints`` (``Authorization: Bearer`` secret key, 401 otherwise; form-encoded
``url`` and ``enabled_events[]``; list ``{"object": "list", "data", "has_more"}``; create 200
answering the endpoint's generated ``secret`` once, never listed back; update with ``POST
/{id}`` 200; delete 200; 404 with ``{"error": {...}}`` for an unknown endpoint; 400 for an
event name that is neither exact nor ``*``). It does not cover Stripe's catalogue of event
names, API versions, paging past 100 endpoints, or Stripe's own deliveries (signed here as
Stripe signs them, with the secret the stand-in generated).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from floww.domain.providers.stripe import sign_stripe
from tests.integration.lifecycle import client_env, deploy, floww_cli, make_project, server_env
from tests.integration.serving import free_port, running_server
from tests.integration.test_provider_hooks import provider_hook

pytestmark = pytest.mark.integration

KEY = "sk_test_standin"


class StripeStandIn(ThreadingHTTPServer):
    """One Stripe account whose secret key is ``KEY``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.endpoints: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StripeStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, doc: Any) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"type": "invalid_request_error", "message": message}})

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        self.server.calls.append((method, path))
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._error(401, "Invalid API Key provided")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        if raw and self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return self._error(400, "Invalid request: form encoding expected")
        form = urllib.parse.parse_qs(raw)
        events = form.get("enabled_events[]", [])
        if any(e != "*" and "*" in e for e in events):
            return self._error(400, "Invalid enabled_events")
        listed = [{k: v for k, v in e.items() if k != "secret"} for e in self.server.endpoints]
        if path == "/v1/webhook_endpoints" and method == "GET":
            return self._send(200, {"object": "list", "data": listed, "has_more": False})
        if path == "/v1/webhook_endpoints" and method == "POST":
            if not form.get("url") or not events:
                return self._error(400, "Missing required param: url or enabled_events")
            endpoint = {
                "id": f"we_{uuid.uuid4().hex[:12]}",
                "object": "webhook_endpoint",
                "url": form["url"][0],
                "enabled_events": events,
                "status": "enabled",
                "secret": f"whsec_{secrets.token_hex(16)}",
            }
            self.server.endpoints.append(endpoint)
            return self._send(200, endpoint)
        endpoint_id = path.removeprefix("/v1/webhook_endpoints/")
        found = next((e for e in self.server.endpoints if e["id"] == endpoint_id), None)
        if found is None:
            return self._error(404, f"No such webhook endpoint: '{endpoint_id}'")
        if method == "POST":
            if events:
                found["enabled_events"] = events
            if form.get("disabled"):
                found["status"] = "disabled" if form["disabled"][0] == "true" else "enabled"
            return self._send(200, {k: v for k, v in found.items() if k != "secret"})
        if method == "DELETE":
            self.server.endpoints.remove(found)
            return self._send(
                200, {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}
            )
        return self._error(404, "Unrecognized request URL")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")


@contextmanager
def stripe_stand_in() -> Iterator[StripeStandIn]:
    server = StripeStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def code(*triggers: list[str]) -> str:
    text = "\n\nfrom floww import Stripe\n\nstripe = Stripe()\n"
    for n, types in enumerate(triggers):
        text += f"""

@stripe.on_event(types={types!r})
def on_stripe_{n}(ctx, event):
    return {{"ran": {n}}}
"""
    return text


def deliver(url: str, secret: str) -> httpx.Response:
    body = json.dumps(
        {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "invoice.paid"}
    ).encode()
    headers = {
        "stripe-signature": sign_stripe(secret, int(time.time()), body),
        "content-type": "application/json",
    }
    return httpx.post(url, content=body, headers=headers, timeout=30)


def test_stripe_webhook_endpoint_created_updated_unchanged_removed(tmp_path: Path) -> None:
    database = tmp_path / "home" / "floww.db"
    env = server_env(
        f"sqlite:///{database}",
        register_provider_hooks="true",
        sandbox_egress_allow="127.0.0.1/32",  # the stand-in API on loopback
    )
    port = free_port()
    home = tmp_path / "home"
    with stripe_stand_in() as stripe, running_server(home, env=env, port=port) as server:
        cli = client_env(server, tmp_path / "client")
        setup = floww_cli(
            cli,
            "providers",
            "setup",
            "stripe",
            "--set",
            f"secret_key={KEY}",
            "--set",
            "webhook_secret=whsec_placeholder",
            "--set",
            f"api_url={stripe.url}",
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr

        # 1. Created with the union of the triggers' types; Stripe's generated signing secret
        # becomes the provider's webhook_secret: a delivery signed with it runs the trigger.
        project = make_project(
            tmp_path, "pay", cli, extra=code(["invoice.paid"], ["charge.refunded"])
        )
        first = deploy(cli, project)
        created = provider_hook(first, "account", "stripe:default")
        assert created["action"] == "created", created
        assert "signing secret is now the provider's webhook_secret" in created["message"]
        [endpoint] = stripe.endpoints
        assert endpoint["url"] == created["url"] and created["url"].endswith("/stripe/default")
        assert sorted(endpoint["enabled_events"]) == ["charge.refunded", "invoice.paid"]
        assert endpoint["secret"] not in json.dumps(first), "the secret is never reported"
        assert endpoint["secret"].encode() not in database.read_bytes(), "stored encrypted"
        assert deliver(endpoint["url"], endpoint["secret"]).json() == {"ok": True}
        assert deliver(endpoint["url"], "whsec_placeholder").status_code == 401

        # The stored secret outlives the server: a restarted server verifies with it.
        server.process.kill()
        server.process.wait(timeout=30)
        with running_server(home, env=env, port=port) as server:
            assert deliver(endpoint["url"], endpoint["secret"]).json() == {"ok": True}

            # 2. Same code again: unchanged. 3. A family: the endpoint asks for every event.
            assert provider_hook(deploy(cli, project), "account", "stripe:default")["action"] == (
                "unchanged"
            )
            main = project.path / "main.py"
            base = main.read_text().split("\n\nfrom floww import Stripe")[0]
            main.write_text(base + code(["invoice.*"]))
            updated = provider_hook(deploy(cli, project), "account", "stripe:default")
            assert updated["action"] == "updated", updated
            assert [e["enabled_events"] for e in stripe.endpoints] == [["*"]]
            assert deliver(endpoint["url"], endpoint["secret"]).json() == {"ok": True}

            # 4. The last Stripe trigger goes: the endpoint is deleted.
            main.write_text(base)
            removed = provider_hook(deploy(cli, project), "account", "stripe:default")
            assert removed["action"] == "removed", removed
            assert stripe.endpoints == []
            creates = [c for c in stripe.calls if c == ("POST", "/v1/webhook_endpoints")]
            assert len(creates) == 1, stripe.calls


def test_stripe_refusing_the_key_is_reported_and_the_deploy_stands(tmp_path: Path) -> None:
    env = server_env(
        f"sqlite:///{tmp_path / 'home' / 'floww.db'}",
        register_provider_hooks="true",
        sandbox_egress_allow="127.0.0.1/32",  # the stand-in API on loopback
    )
    with stripe_stand_in() as stripe, running_server(tmp_path / "home", env=env) as server:
        cli = client_env(server, tmp_path / "client")
        setup = floww_cli(
            cli,
            "providers",
            "setup",
            "stripe",
            "--set",
            "secret_key=sk_test_wrong",
            "--set",
            "webhook_secret=whsec_by_hand",
            "--set",
            f"api_url={stripe.url}",
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr
        project = make_project(tmp_path, "pay", cli, extra=code(["invoice.paid"]))
        result = floww_cli(cli, "deploy", "--yes", cwd=project.path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "stripe:default webhook on account not registered" in result.stderr, result.stderr
        assert "401" in result.stderr and "Stripe's dashboard by hand" in result.stderr
        assert stripe.endpoints == []
        # The deploy stands: a delivery signed with the secret set by hand runs.
        url = next(u for u in deploy(cli, project)["webhook_urls"] if "/stripe/" in u)
        assert deliver(url.split(" ", 1)[1], "whsec_by_hand").json() == {"ok": True}
