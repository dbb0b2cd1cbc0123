"""Rules of the pure domain: identity, canonical JSON, paths, cron, execution states,
trigger diffs and delivery verification."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww.domain.canonical import canonical_json
from floww.domain.cron import CronSchedule
from floww.domain.errors import Conflict, InvalidInput, Unauthenticated
from floww.domain.model import Execution, ExecutionStatus, ProviderRef, TriggerSpec
from floww.domain.paths import PathTemplate
from floww.domain.triggers import diff_triggers
from floww.domain.verification import Delivery, sign_github, sign_slack, verify_delivery

json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def _shuffled(value: Any, seed: int) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        if seed % 2:
            items.reverse()
        return {k: _shuffled(v, seed + 1) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, seed + 1) for v in value]
    return value


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5), st.integers(0, 3))
def test_identity_ignores_key_order_at_every_depth(data: dict[str, Any], seed: int) -> None:
    a = TriggerSpec(ProviderRef("builtin"), "webhook", data)
    b = TriggerSpec(ProviderRef("builtin"), "webhook", _shuffled(data, seed))
    assert a.identity == b.identity and a.key == b.key


@given(json_values)
def test_canonical_json_round_trips_and_is_a_fixed_point(value: Any) -> None:
    text = canonical_json(value)
    assert json.loads(text) == value
    assert canonical_json(json.loads(text)) == text


def test_identity_distinguishes_alias_type_and_input() -> None:
    base = TriggerSpec(ProviderRef("github", "a"), "push", {"owner": "x"})
    assert base.identity != TriggerSpec(ProviderRef("github", "b"), "push", {"owner": "x"}).identity
    assert base.identity != TriggerSpec(ProviderRef("github", "a"), "pr", {"owner": "x"}).identity
    assert base.identity != TriggerSpec(ProviderRef("github", "a"), "push", {"owner": "y"}).identity


segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8)


@given(st.lists(segment, min_size=1, max_size=5), st.data())
def test_templates_match_exactly_the_paths_they_render(
    literals: list[str], data: st.DataObject
) -> None:
    flags = data.draw(st.lists(st.booleans(), min_size=len(literals), max_size=len(literals)))
    parts = [
        f"{{p{i}}}" if flag else lit
        for i, (lit, flag) in enumerate(zip(literals, flags, strict=True))
    ]
    template = PathTemplate.parse("/" + "/".join(parts))
    values = {name: data.draw(segment) for name in template.params}
    path = template.render(values)
    assert template.match(path) == values
    assert template.match(path + "/extra") is None
    assert template.match("//" + path.strip("/") + "/") == values


@pytest.mark.parametrize("bad", ["", "no-slash", "/a/{x}/{x}", "/a b", "/{1x}"])
def test_bad_templates_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidInput):
        PathTemplate.parse(bad)


def test_cron_next_fire_times_are_utc_and_strictly_after() -> None:
    schedule = CronSchedule.parse("*/15  *  * * *")
    assert schedule.expression == "*/15 * * * *"
    moment = datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    assert schedule.next_after(moment) == datetime(2026, 1, 1, 10, 30, tzinfo=UTC)
    other_zone = moment.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert schedule.next_after(other_zone) == datetime(2026, 1, 1, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "* * * * * *", "banana"])
def test_bad_cron_is_rejected_with_a_reason(bad: str) -> None:
    with pytest.raises(InvalidInput, match="cron"):
        CronSchedule.parse(bad)


def test_execution_final_states_never_change() -> None:
    now = datetime.now(UTC)
    execution = Execution("e", "w", "t", ExecutionStatus.RECEIVED, now)
    done = execution.transition(ExecutionStatus.STARTED).transition(ExecutionStatus.COMPLETED)
    for status in ExecutionStatus:
        with pytest.raises(Conflict):
            done.transition(status)
    with pytest.raises(Conflict):
        execution.transition(ExecutionStatus.RECEIVED)


def test_trigger_diff_by_identity() -> None:
    a = TriggerSpec(ProviderRef("builtin"), "cron", {"expression": "* * * * *"})
    b = TriggerSpec(ProviderRef("builtin"), "manual", {"name": "b"})
    c = TriggerSpec(ProviderRef("builtin"), "manual", {"name": "c"})
    diff = diff_triggers([a, b], [TriggerSpec(ProviderRef("builtin"), "manual", {"name": "b"}), c])
    assert (diff.added, diff.removed, diff.kept) == ((c,), (a,), (b,))


PUSH = TriggerSpec(
    ProviderRef("github"), "push", {"owner": "acme", "repository": "api", "branch": "main"}
)


@given(st.binary(max_size=64), st.text(min_size=1, max_size=12))
def test_github_signature_verifies_only_the_exact_body(body: bytes, secret: str) -> None:
    headers = {"x-hub-signature-256": sign_github(secret, body), "x-github-event": "ping"}
    assert verify_delivery(PUSH, {"webhook_secret": secret}, headers, body, datetime.now(UTC)).reply
    with pytest.raises(Unauthenticated):
        verify_delivery(PUSH, {"webhook_secret": secret}, headers, body + b"x", datetime.now(UTC))
    with pytest.raises(Unauthenticated):
        verify_delivery(PUSH, {"webhook_secret": secret + "x"}, headers, body, datetime.now(UTC))


ACME_API = {"full_name": "acme/api", "name": "api", "owner": {"login": "acme"}}


def _push(payload: dict[str, object], content_type: str = "application/json") -> Delivery:
    if content_type == "application/json":
        body = json.dumps(payload).encode()
    else:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        "x-hub-signature-256": sign_github("s", body),
        "x-github-event": "push",
        "x-github-delivery": "d1",
        "content-type": content_type,
    }
    return verify_delivery(PUSH, {"webhook_secret": "s"}, headers, body, datetime.now(UTC))


def test_github_push_to_another_branch_is_ignored() -> None:
    assert _push({"ref": "refs/heads/dev", "repository": ACME_API}).ignored
    delivery = _push({"ref": "refs/heads/main", "repository": ACME_API})
    assert delivery.event["payload"]["ref"] == "refs/heads/main"
    # Deduplicated on the signed body, not on the unsigned X-GitHub-Delivery header.
    assert delivery.delivery_id is not None and delivery.delivery_id.startswith("sha256:")


@pytest.mark.parametrize(
    "repository",
    [
        {"full_name": "evil/other", "name": "other", "owner": {"login": "evil"}},
        {"full_name": "evil/api", "name": "api", "owner": {"login": "evil"}},
        {"full_name": "acme/api-fork", "name": "api-fork", "owner": {"login": "acme"}},
        None,
    ],
)
def test_github_push_to_another_repository_is_ignored(repository: object) -> None:
    """A correctly signed push of another repository (the secret is shared, or reused) must
    not run a trigger declared for acme/api."""
    payload: dict[str, object] = {"ref": "refs/heads/main"}
    if repository is not None:
        payload["repository"] = repository
    assert _push(payload).ignored


def test_github_repository_names_match_without_regard_to_case() -> None:
    shouted = {"full_name": "ACME/Api", "name": "Api", "owner": {"login": "ACME"}}
    assert not _push({"ref": "refs/heads/main", "repository": shouted}).ignored
    by_owner = {"name": "api", "owner": {"login": "acme"}}
    assert not _push({"ref": "refs/heads/main", "repository": by_owner}).ignored


def test_a_github_form_delivery_is_read_like_json() -> None:
    form = "application/x-www-form-urlencoded"
    delivery = _push({"ref": "refs/heads/main", "repository": ACME_API}, form)
    assert delivery.event["payload"]["repository"]["full_name"] == "acme/api"
    body = b"payload=not-json"
    headers = {
        "x-hub-signature-256": sign_github("s", body),
        "x-github-event": "push",
        "content-type": form,
    }
    with pytest.raises(Unauthenticated, match="not JSON"):
        verify_delivery(PUSH, {"webhook_secret": "s"}, headers, body, datetime.now(UTC))


MESSAGE = TriggerSpec(ProviderRef("slack"), "message", {})


def test_slack_signature_window_and_challenge() -> None:
    now = datetime.now(UTC)
    body = json.dumps({"type": "url_verification", "challenge": "abc"}).encode()
    ts = str(int(now.timestamp()))
    headers = {"x-slack-request-timestamp": ts, "x-slack-signature": sign_slack("k", ts, body)}
    assert verify_delivery(MESSAGE, {"signing_secret": "k"}, headers, body, now).reply == {
        "challenge": "abc"
    }
    with pytest.raises(Unauthenticated, match="window"):
        verify_delivery(MESSAGE, {"signing_secret": "k"}, headers, body, now + timedelta(minutes=6))
    with pytest.raises(Unauthenticated):
        verify_delivery(MESSAGE, {"signing_secret": "other"}, headers, body, now)


def _slack_event(event: dict[str, object]) -> Delivery:
    now = datetime.now(UTC)
    body = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": event}).encode()
    ts = str(int(now.timestamp()))
    headers = {"x-slack-request-timestamp": ts, "x-slack-signature": sign_slack("k", ts, body)}
    return verify_delivery(MESSAGE, {"signing_secret": "k"}, headers, body, now)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "subtype": "bot_message", "bot_id": "B1", "text": "hi"},
        {"type": "message", "bot_id": "B1", "text": "posted by an app as a bot"},
        {"type": "message", "subtype": "message_changed", "message": {"text": "edited"}},
        {"type": "message", "subtype": "message_deleted"},
        {"type": "message", "subtype": "channel_join", "user": "U1"},
    ],
)
def test_slack_messages_of_bots_and_edits_do_not_run_message_triggers(
    event: dict[str, object],
) -> None:
    assert _slack_event(event).ignored


def test_slack_messages_people_write_run_message_triggers() -> None:
    for event in (
        {"type": "message", "user": "U1", "text": "hello"},
        {"type": "message", "subtype": "thread_broadcast", "user": "U1", "text": "hi all"},
        {"type": "message", "subtype": "file_share", "user": "U1", "text": "see this"},
    ):
        delivery = _slack_event(event)
        assert delivery.ignored is None and delivery.delivery_id == "Ev1"


def test_odd_signature_headers_and_payloads_are_refused_not_crashed() -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    headers = {"x-hub-signature-256": "sha256=é" + "0" * 63, "x-github-event": "push"}
    with pytest.raises(Unauthenticated):
        verify_delivery(PUSH, {"webhook_secret": "s"}, headers, body, datetime.now(UTC))
    now = datetime.now(UTC)
    ts = str(int(now.timestamp()))
    odd = json.dumps({"type": "event_callback", "event": ["not", "an", "object"]}).encode()
    signed = {"x-slack-request-timestamp": ts, "x-slack-signature": sign_slack("k", ts, odd)}
    assert verify_delivery(MESSAGE, {"signing_secret": "k"}, signed, odd, now).ignored
    deep = b"[" * 100_000 + b"]" * 100_000
    signed = {"x-slack-request-timestamp": ts, "x-slack-signature": sign_slack("k", ts, deep)}
    with pytest.raises(Unauthenticated):
        verify_delivery(MESSAGE, {"signing_secret": "k"}, signed, deep, now)
