"""Provider deliveries over HTTP against a real ``floww serve``, signed as each provider signs
them: for every provider a genuine delivery runs its trigger (answered at once with the
provider's acknowledgement), the same delivery again is a duplicate, a wrong signature and a
stale timestamp (where the provider signs one) are refused with 401, and a delivery for
another event or filter is acknowledged and ignored. The earlier GitHub and Slack defects
(another repository's push, a form-encoded delivery, a bot answering itself, slash commands
refused) each have a case here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from floww.domain.model import ExecutionStatus
from tests.integration.lifecycle import (
    client_env,
    deploy,
    executions_of,
    floww_cli,
    make_project,
    server_env,
    sql_repo,
    wait_until,
)
from tests.integration.serving import running_server

pytestmark = pytest.mark.integration

CODE = """

from floww import GitHub, GitLab, Discord, Jira, Linear, Slack, StandardWebhooks, Stripe, Todoist

github = GitHub()
slack = Slack()
gitlab = GitLab()
stripe = Stripe()
linear = Linear()
discord = Discord()
jira = Jira()
todoist = Todoist()
standard = StandardWebhooks()


def _seen(ctx, event):
    return {"type": event.type}


github.on_push(owner="acme", repository="api", branch="main")(_seen)
slack.on_message()(_seen)
slack.on_slash_command("/deploy")(_seen)
gitlab.on_push(project="acme/api", branch="main")(_seen)
stripe.on_event(types=["invoice.*"])(_seen)
linear.on_issue(actions=["create"])(_seen)
discord.on_command("deploy")(_seen)
jira.on_issue(events=["created"])(_seen)
todoist.on_task(events=["completed"])(_seen)
standard.on_event(types=["user.created"])(_seen)
"""

DISCORD_KEY = Ed25519PrivateKey.generate()
DISCORD_PUBLIC = DISCORD_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
SETUPS = {
    "github": {"token": "t", "webhook_secret": "gh-secret"},
    "slack": {"bot_token": "xoxb-1", "signing_secret": "sl-secret"},
    "gitlab": {"token": "t", "webhook_token": "gl-token"},
    "stripe": {"secret_key": "sk_test_1", "webhook_secret": "whsec_stripe"},
    "linear": {"api_key": "lin_1", "webhook_secret": "li-secret"},
    "discord": {"application_id": "1", "public_key": DISCORD_PUBLIC, "bot_token": "b"},
    "jira": {
        "site_url": "https://acme.atlassian.net",
        "email": "a@b.c",
        "api_token": "t",
        "webhook_secret": "ji-secret",
    },
    "todoist": {"api_token": "t", "client_secret": "td-secret"},
    "standard_webhooks": {"webhook_secret": WHSEC},
}


def mac(key: bytes | str, message: bytes) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, message, hashlib.sha256).digest()


def signed(
    provider: str, payload: Any, *, at: int, nonce: str, form: bool = False
) -> tuple[bytes, dict[str, str]]:
    """A delivery as ``provider`` sends it: body and headers."""
    body = json.dumps(payload).encode()
    if provider == "github":
        if form:
            body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        kind = "form" if form else "json"
        return body, {
            "x-hub-signature-256": "sha256=" + mac("gh-secret", body).hex(),
            "x-github-event": "push",
            "x-github-delivery": nonce,
            "content-type": "application/x-www-form-urlencoded"
            if kind == "form"
            else "application/json",
        }
    if provider == "slack":
        if form:
            body = urllib.parse.urlencode(payload).encode()
        return body, {
            "x-slack-request-timestamp": str(at),
            "x-slack-signature": "v0=" + mac("sl-secret", f"v0:{at}:".encode() + body).hex(),
            "content-type": "application/x-www-form-urlencoded" if form else "application/json",
        }
    if provider == "gitlab":
        return body, {"x-gitlab-token": "gl-token", "x-gitlab-event-uuid": nonce}
    if provider == "stripe":
        sig = mac("whsec_stripe", f"{at}.".encode() + body).hex()
        return body, {"stripe-signature": f"t={at},v1={sig}"}
    if provider == "linear":
        return body, {"linear-signature": mac("li-secret", body).hex(), "linear-delivery": nonce}
    if provider == "discord":
        signature = DISCORD_KEY.sign(str(at).encode() + body).hex()
        return body, {"x-signature-ed25519": signature, "x-signature-timestamp": str(at)}
    if provider == "jira":
        return body, {
            "x-hub-signature": "sha256=" + mac("ji-secret", body).hex(),
            "x-atlassian-webhook-identifier": nonce,
        }
    if provider == "todoist":
        digest = base64.b64encode(mac("td-secret", body)).decode()
        return body, {"x-todoist-hmac-sha256": digest, "x-todoist-delivery-id": nonce}
    assert provider == "standard_webhooks"
    key = base64.b64decode(WHSEC.removeprefix("whsec_"))
    sig = base64.b64encode(mac(key, f"{nonce}.{at}.".encode() + body)).decode()
    return body, {
        "webhook-id": nonce,
        "webhook-timestamp": str(at),
        "webhook-signature": f"v1,{sig}",
    }


def payloads(now: int) -> dict[str, tuple[Any, Any]]:
    """Per provider: a payload its trigger runs for, and one for another event or filter."""
    return {
        "github": (
            {"ref": "refs/heads/main", "repository": {"full_name": "acme/api"}},
            {"ref": "refs/heads/main", "repository": {"full_name": "evil/other"}},
        ),
        "gitlab": (
            {
                "object_kind": "push",
                "ref": "refs/heads/main",
                "project": {"path_with_namespace": "acme/api"},
            },
            {
                "object_kind": "push",
                "ref": "refs/heads/dev",
                "project": {"path_with_namespace": "acme/api"},
            },
        ),
        "stripe": (
            {"id": "evt_1", "object": "event", "type": "invoice.paid"},
            {"id": "evt_2", "object": "event", "type": "charge.refunded"},
        ),
        "linear": (
            {"type": "Issue", "action": "create", "data": {}, "webhookTimestamp": now * 1000},
            {"type": "Issue", "action": "remove", "data": {}, "webhookTimestamp": now * 1000},
        ),
        "discord": (
            {"type": 2, "id": "i-1", "token": "x", "data": {"name": "deploy"}},
            {"type": 2, "id": "i-2", "token": "x", "data": {"name": "status"}},
        ),
        "jira": (
            {"webhookEvent": "jira:issue_created", "issue": {"key": "OPS-1"}},
            {"webhookEvent": "jira:issue_deleted", "issue": {"key": "OPS-1"}},
        ),
        "todoist": (
            {"event_name": "item:completed", "event_data": {"id": "1"}},
            {"event_name": "item:added", "event_data": {"id": "1"}},
        ),
        "standard_webhooks": (
            {"type": "user.created", "data": {"id": 1}},
            {"type": "user.deleted", "data": {"id": 1}},
        ),
    }


STAMPED = {"stripe", "discord", "standard_webhooks", "slack"}


def url_for(deployed: dict[str, Any], provider: str) -> str:
    """The provider alias's one stable URL (shared by all its triggers)."""
    urls = [
        u.split(" ", 1)[1] for u in deployed["webhook_urls"] if u.endswith(f"/{provider}/default")
    ]
    assert len(urls) == 1, (provider, deployed["webhook_urls"])
    return urls[0]


def test_every_provider_over_http(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'home' / 'floww.db'}"
    with running_server(tmp_path / "home", env=server_env(database_url)) as server:
        cli = client_env(server, tmp_path / "client")
        for provider, config in SETUPS.items():
            args = [a for k, v in config.items() for a in ("--set", f"{k}={v}")]
            done = floww_cli(cli, "providers", "setup", provider, *args)
            assert done.returncode == 0, done.stdout + done.stderr
        types = floww_cli(cli, "providers", "types")
        assert types.returncode == 0 and "stripe: Stripe" in types.stdout, types.stdout
        deployed = deploy(cli, make_project(tmp_path, "hooks", cli, extra=CODE))
        now = int(time.time())
        expected_runs = 0

        for provider, (wanted, unwanted) in payloads(now).items():
            url = url_for(deployed, provider)
            body, headers = signed(provider, wanted, at=now, nonce=f"{provider}-1")
            first = httpx.post(url, content=body, headers=headers, timeout=30)
            assert first.status_code == 200, (provider, first.text)
            expected_runs += 1
            if provider == "discord":
                assert first.json() == {"type": 5}  # deferred answer, within Discord's 3 s
            again = httpx.post(url, content=body, headers=headers, timeout=30)
            assert again.status_code == 200 and again.json().get("duplicate") is True, provider

            forged = dict(headers)
            tampered = body.replace(b"}", b" }", 1)
            if provider == "gitlab":  # GitLab signs nothing: its secret token is the proof
                forged, tampered = {**headers, "x-gitlab-token": "guessed"}, body
            assert httpx.post(url, content=tampered, headers=forged, timeout=30).status_code == 401

            if provider in STAMPED:
                body, headers = signed(provider, wanted, at=now - 3600, nonce=f"{provider}-old")
                stale = httpx.post(url, content=body, headers=headers, timeout=30)
                assert stale.status_code == 401, (provider, stale.text)

            body, headers = signed(provider, unwanted, at=now, nonce=f"{provider}-2")
            other = httpx.post(url, content=body, headers=headers, timeout=30)
            assert other.status_code == 200 and "ignored" in other.json(), (provider, other.text)

        # GitHub: a correctly signed form-encoded delivery runs like JSON.
        github = url_for(deployed, "github")
        body, headers = signed(
            "github", payloads(now)["github"][0], at=now, nonce="gh-form", form=True
        )
        form = httpx.post(github, content=body, headers=headers, timeout=30)
        assert form.status_code == 200 and form.json() == {"ok": True}, form.text
        expected_runs += 1

        # GitHub sends up to 25 MB: a 2 MiB push runs; the same size elsewhere is refused
        # before the server reads past its own 1 MiB limit.
        big = {**payloads(now)["github"][0], "commits": [{"message": "x" * 2048}] * 1024}
        body, headers = signed("github", big, at=now, nonce="gh-big")
        assert len(body) > 2 * 1024 * 1024
        large = httpx.post(github, content=body, headers=headers, timeout=60)
        assert large.status_code == 200 and large.json() == {"ok": True}, large.text[:300]
        expected_runs += 1
        base = github.split("/github/")[0]
        for elsewhere in (base + "/github/other", base + "/hello/big"):
            refused = httpx.post(elsewhere, content=body, headers=headers, timeout=60)
            assert refused.status_code == 413, (elsewhere, refused.status_code)

        # Slack: both triggers share one URL. A bot's message (the handler's own) is ignored
        # by both; a slash command runs the slash-command trigger only, with an empty
        # acknowledgement.
        slack_url = url_for(deployed, "slack")
        envelope = {
            "type": "event_callback",
            "event_id": "Ev1",
            "event": {"type": "message", "bot_id": "B1", "subtype": "bot_message"},
        }
        slash = {
            "command": "/deploy",
            "text": "api",
            "trigger_id": "tr-1",
            "response_url": "https://hooks.slack.com/x",
        }
        body, headers = signed("slack", envelope, at=now, nonce="")
        bot = httpx.post(slack_url, content=body, headers=headers, timeout=30)
        assert bot.status_code == 200 and "ignored" in bot.json(), bot.text
        body, headers = signed("slack", slash, at=now, nonce="", form=True)
        answer = httpx.post(slack_url, content=body, headers=headers, timeout=30)
        assert answer.status_code == 200 and answer.content == b"", answer.text
        expected_runs += 1

        # Every genuine, wanted delivery ran once and completed; duplicates, forgeries, stale
        # and unwanted deliveries left no execution.
        with sql_repo(database_url) as repo:

            def settled() -> list[ExecutionStatus] | None:
                runs = [e.status for e in executions_of(repo, deployed["workflow"]["id"])]
                done = len(runs) >= expected_runs and all(s.is_final for s in runs)
                return runs if done else None

            statuses = wait_until(settled, timeout=60)
        assert statuses == [ExecutionStatus.COMPLETED] * expected_runs, statuses
