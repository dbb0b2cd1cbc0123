"""Every provider's delivery verification, filters and replay windows, through the one entry
the webhook use case calls (``verify_delivery``).

Where a provider's documentation publishes a worked example it is used as is: GitHub's
("Validating webhook deliveries": secret ``It's a Secret to Everybody``, body ``Hello,
World!``), Slack's ("Verifying requests from Slack": the ``/webhook-collect`` slash command)
and Standard Webhooks' (the specification's reference test vector). The others publish none:
their schemes are checked by Hypothesis round trips against independently written signers
below, plus a changed byte, a wrong secret and a stale timestamp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from floww.domain.errors import Unauthenticated
from floww.domain.model import ProviderRef, TriggerSpec
from floww.domain.providers import CATALOGUE, body_limit, path_body_limit, verify_delivery
from floww.domain.providers.base import body_id

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TS = int(NOW.timestamp())


def spec(provider: str, trigger: str, **input: Any) -> TriggerSpec:
    return TriggerSpec(ProviderRef(provider), trigger, input)


def hexmac(key: bytes | str, message: bytes) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, message, hashlib.sha256).hexdigest()


# published examples ---------------------------------------------------------------------------


def test_githubs_published_example_verifies() -> None:
    headers = {
        "x-hub-signature-256": (
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        ),
        "x-github-event": "ping",
    }
    config = {"webhook_secret": "It's a Secret to Everybody"}
    delivery = verify_delivery(
        spec("github", "push", owner="a", repository="b"), config, headers, b"Hello, World!", NOW
    )
    assert delivery.reply == {"ok": True, "pong": True}


SLACK_EXAMPLE = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_EXAMPLE_HEADERS = {
    "x-slack-request-timestamp": "1531420618",
    "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    "content-type": "application/x-www-form-urlencoded",
}
SLACK_EXAMPLE_CONFIG = {"signing_secret": "8f742231b10e8888abcd99yyyzzz85a5"}
SLACK_EXAMPLE_TIME = datetime.fromtimestamp(1531420618 + 10, UTC)


def test_slacks_published_slash_command_example_runs_the_slash_command_trigger() -> None:
    trigger = spec("slack", "slash_command", command="/webhook-collect")
    delivery = verify_delivery(
        trigger, SLACK_EXAMPLE_CONFIG, SLACK_EXAMPLE_HEADERS, SLACK_EXAMPLE, SLACK_EXAMPLE_TIME
    )
    assert delivery.event["type"] == "slash_command"
    assert delivery.event["payload"]["command"] == "/webhook-collect"
    assert delivery.event["payload"]["user_name"] == "roadrunner"
    assert delivery.delivery_id == "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    assert delivery.ack is None  # Slack gets an empty 200 at once
    other = spec("slack", "slash_command", command="/deploy")
    ignored = verify_delivery(
        other, SLACK_EXAMPLE_CONFIG, SLACK_EXAMPLE_HEADERS, SLACK_EXAMPLE, SLACK_EXAMPLE_TIME
    )
    assert ignored.ignored and not ignored.event
    late = SLACK_EXAMPLE_TIME + timedelta(minutes=10)
    with pytest.raises(Unauthenticated, match="window"):
        verify_delivery(trigger, SLACK_EXAMPLE_CONFIG, SLACK_EXAMPLE_HEADERS, SLACK_EXAMPLE, late)


def test_standard_webhooks_reference_vector_verifies() -> None:
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    config = {"webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    at = datetime.fromtimestamp(1614265330, UTC)
    body = b'{"test": 2432232314}'
    delivery = verify_delivery(spec("standard_webhooks", "event"), config, headers, body, at)
    assert delivery.delivery_id == "msg_p5jXN8AQM9LWM0D4loKWxJek"
    assert delivery.event["payload"] == {"test": 2432232314}
    # Several signatures while a secret is rolled: one match is enough.
    rolled = {**headers, "webhook-signature": "v1,bm90IGl0 " + headers["webhook-signature"]}
    assert verify_delivery(spec("standard_webhooks", "event"), config, rolled, body, at).event
    with pytest.raises(Unauthenticated):
        verify_delivery(spec("standard_webhooks", "event"), config, headers, body + b" ", at)
    with pytest.raises(Unauthenticated, match="window"):
        verify_delivery(
            spec("standard_webhooks", "event"), config, headers, body, at + timedelta(minutes=6)
        )


# Slack interactivity and bots ----------------------------------------------------------------


def slack_headers(secret: str, body: bytes, *, form: bool) -> dict[str, str]:
    base = f"v0:{TS}:".encode() + body
    return {
        "x-slack-request-timestamp": str(TS),
        "x-slack-signature": "v0=" + hexmac(secret, base),
        "content-type": "application/x-www-form-urlencoded" if form else "application/json",
    }


def test_slack_interactivity_payloads_run_their_triggers() -> None:
    payload = {
        "type": "block_actions",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "actions": [{"action_id": "approve", "value": "yes"}],
        "response_url": "https://hooks.slack.com/actions/T0/1/x",
    }
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = slack_headers("s", body, form=True)
    run = verify_delivery(
        spec("slack", "block_actions", action_id="approve"),
        {"signing_secret": "s"},
        headers,
        body,
        NOW,
    )
    assert run.event["payload"]["actions"][0]["value"] == "yes"
    assert run.ack is None
    other = verify_delivery(
        spec("slack", "block_actions", action_id="reject"),
        {"signing_secret": "s"},
        headers,
        body,
        NOW,
    )
    assert other.ignored
    view = verify_delivery(
        spec("slack", "view_submission"), {"signing_secret": "s"}, headers, body, NOW
    )
    assert view.ignored


def test_slack_message_trigger_takes_bots_only_when_asked() -> None:
    envelope = {
        "type": "event_callback",
        "event_id": "Ev9",
        "event": {"type": "message", "subtype": "bot_message", "bot_id": "B1", "channel": "C1"},
    }
    body = json.dumps(envelope).encode()
    headers = slack_headers("s", body, form=False)
    config = {"signing_secret": "s"}
    assert verify_delivery(spec("slack", "message"), config, headers, body, NOW).ignored
    asked = verify_delivery(spec("slack", "message", include_bots=True), config, headers, body, NOW)
    assert asked.event and asked.delivery_id == "Ev9"


# schemes without a published example: Hypothesis round trips ---------------------------------

BODIES = st.binary(min_size=0, max_size=200)
SECRETS = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40
)


def stripe_delivery(secret: str, event: dict[str, Any], at: int) -> tuple[dict[str, str], bytes]:
    body = json.dumps(event).encode()
    signature = hexmac(secret, f"{at}.".encode() + body)
    return {"stripe-signature": f"t={at},v1={signature}"}, body


@settings(max_examples=40, deadline=None)
@given(secret=SECRETS, amount=st.integers(min_value=1, max_value=10**9))
def test_stripe_round_trip(secret: str, amount: int) -> None:
    event = {"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"amount": amount}}
    headers, body = stripe_delivery(secret, event, TS)
    config = {"webhook_secret": secret}
    run = verify_delivery(spec("stripe", "event", types=["invoice.*"]), config, headers, body, NOW)
    assert run.delivery_id == "evt_1" and run.event["payload"]["data"]["amount"] == amount
    skip = verify_delivery(
        spec("stripe", "event", types=["charge.refunded"]), config, headers, body, NOW
    )
    assert skip.ignored
    with pytest.raises(Unauthenticated):
        verify_delivery(
            spec("stripe", "event"), {"webhook_secret": secret + "x"}, headers, body, NOW
        )
    with pytest.raises(Unauthenticated, match="window"):
        verify_delivery(spec("stripe", "event"), config, headers, body, NOW + timedelta(minutes=6))


@settings(max_examples=40, deadline=None)
@given(secret=SECRETS, body=BODIES)
def test_linear_jira_todoist_gitlab_refuse_any_changed_body(secret: str, body: bytes) -> None:
    cases = [
        (
            spec("linear", "issue"),
            {"webhook_secret": secret},
            {"linear-signature": hexmac(secret, body)},
        ),
        (
            spec("jira", "issue"),
            {"webhook_secret": secret},
            {"x-hub-signature": "sha256=" + hexmac(secret, body)},
        ),
        (
            spec("todoist", "item"),
            {"client_secret": secret},
            {
                "x-todoist-hmac-sha256": base64.b64encode(
                    hmac.new(secret.encode(), body, hashlib.sha256).digest()
                ).decode()
            },
        ),
    ]
    for trigger, config, headers in cases:
        with pytest.raises(Unauthenticated):
            verify_delivery(trigger, config, headers, body + b"!", NOW)
        with pytest.raises(Unauthenticated):
            verify_delivery(trigger, {k: v + "x" for k, v in config.items()}, headers, body, NOW)
    with pytest.raises(Unauthenticated):
        verify_delivery(
            spec("gitlab", "push"),
            {"webhook_token": secret},
            {"x-gitlab-token": secret + "x"},
            body,
            NOW,
        )


def test_linear_checks_its_signed_timestamp_and_filters() -> None:
    secret = "lin_wh_secret"
    payload = {
        "type": "Issue",
        "action": "create",
        "data": {"teamId": "T1"},
        "webhookTimestamp": TS * 1000,
    }
    body = json.dumps(payload).encode()
    headers = {"linear-signature": hexmac(secret, body), "linear-delivery": "d-1"}
    config = {"webhook_secret": secret}
    run = verify_delivery(
        spec("linear", "issue", actions=["create"], team_id="T1"), config, headers, body, NOW
    )
    assert run.delivery_id == "d-1"
    assert verify_delivery(
        spec("linear", "issue", actions=["remove"]), config, headers, body, NOW
    ).ignored
    assert verify_delivery(spec("linear", "comment"), config, headers, body, NOW).ignored
    with pytest.raises(Unauthenticated, match="window"):
        verify_delivery(spec("linear", "issue"), config, headers, body, NOW + timedelta(minutes=2))


def test_gitlab_filters_project_branch_and_event() -> None:
    payload = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "project": {"path_with_namespace": "Acme/API"},
    }
    body = json.dumps(payload).encode()
    headers = {"x-gitlab-token": "tok", "x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": "u-1"}
    config = {"webhook_token": "tok"}
    run = verify_delivery(
        spec("gitlab", "push", project="acme/api", branch="main"), config, headers, body, NOW
    )
    assert run.delivery_id == body_id(body)  # the unsigned header is not trusted
    assert verify_delivery(
        spec("gitlab", "push", project="evil/api"), config, headers, body, NOW
    ).ignored
    assert verify_delivery(
        spec("gitlab", "push", project="acme/api", branch="dev"), config, headers, body, NOW
    ).ignored
    assert verify_delivery(
        spec("gitlab", "merge_request", project="acme/api"), config, headers, body, NOW
    ).ignored


def test_jira_and_todoist_filters() -> None:
    jira = {
        "webhookEvent": "jira:issue_created",
        "issue": {"key": "OPS-1", "fields": {"project": {"key": "OPS"}}},
    }
    body = json.dumps(jira).encode()
    headers = {
        "x-hub-signature": "sha256=" + hexmac("js", body),
        "x-atlassian-webhook-identifier": "j-1",
    }
    assert verify_delivery(
        spec("jira", "issue", events=["created"], project="OPS"),
        {"webhook_secret": "js"},
        headers,
        body,
        NOW,
    ).delivery_id == body_id(body)
    assert verify_delivery(
        spec("jira", "issue", events=["deleted"]), {"webhook_secret": "js"}, headers, body, NOW
    ).ignored
    assert verify_delivery(
        spec("jira", "issue", project="DEV"), {"webhook_secret": "js"}, headers, body, NOW
    ).ignored

    todo = {"event_name": "item:completed", "event_data": {"id": "1", "project_id": "p1"}}
    body = json.dumps(todo).encode()
    digest = base64.b64encode(hmac.new(b"ts", body, hashlib.sha256).digest()).decode()
    headers = {"x-todoist-hmac-sha256": digest, "x-todoist-delivery-id": "t-1"}
    assert verify_delivery(
        spec("todoist", "item", events=["completed"], project_id="p1"),
        {"client_secret": "ts"},
        headers,
        body,
        NOW,
    ).delivery_id == body_id(body)
    assert verify_delivery(
        spec("todoist", "item", events=["added"]), {"client_secret": "ts"}, headers, body, NOW
    ).ignored
    assert verify_delivery(
        spec("todoist", "note"), {"client_secret": "ts"}, headers, body, NOW
    ).ignored


def discord_delivery(
    key: Ed25519PrivateKey, payload: dict[str, Any], at: int
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    signature = key.sign(str(at).encode() + body).hex()
    return {"x-signature-ed25519": signature, "x-signature-timestamp": str(at)}, body


def test_discord_ed25519_ping_commands_and_window() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    config = {"public_key": public}
    headers, body = discord_delivery(key, {"type": 1, "id": "1"}, TS)
    assert verify_delivery(spec("discord", "command"), config, headers, body, NOW).reply == {
        "type": 1
    }
    command = {"type": 2, "id": "i-7", "token": "tok", "data": {"name": "deploy"}}
    headers, body = discord_delivery(key, command, TS)
    run = verify_delivery(spec("discord", "command", name="deploy"), config, headers, body, NOW)
    assert run.delivery_id == "i-7" and run.ack == {"type": 5}
    assert verify_delivery(
        spec("discord", "command", name="status"), config, headers, body, NOW
    ).ignored
    with pytest.raises(Unauthenticated):
        verify_delivery(spec("discord", "command"), config, headers, body + b" ", NOW)
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(Unauthenticated):
        verify_delivery(spec("discord", "command"), {"public_key": other.hex()}, headers, body, NOW)
    with pytest.raises(Unauthenticated, match="window"):
        verify_delivery(
            spec("discord", "command"), config, headers, body, NOW + timedelta(minutes=6)
        )


# the catalogue ---------------------------------------------------------------------------------


def test_every_provider_that_receives_verifies_and_builtin_and_secret_do_not() -> None:
    for name, rules in CATALOGUE.items():
        assert (rules.verify is None) == (name in ("builtin", "secret")), name
        with pytest.raises(Unauthenticated):
            if rules.verify is None:
                verify_delivery(spec(name, "x"), {}, {}, b"{}", NOW)
            else:
                verify_delivery(spec(name, rules.triggers[0].name), {}, {}, b"{}", NOW)


def test_github_takes_25_megabytes_and_others_the_default() -> None:
    assert body_limit("github", 1 << 20) == 25 * 1024 * 1024
    assert body_limit("slack", 1 << 20) == 1 << 20
    assert path_body_limit("/github/default/abc", 1 << 20) == 25 * 1024 * 1024
    assert path_body_limit("/hello/world", 1 << 20) == 1 << 20
