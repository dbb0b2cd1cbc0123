"""Contract of ``Platform``: what ``floww dev`` and ``floww deploy`` ask of a floww server.

Fixture: ``platform_harness``, a ``PlatformHarness`` (below) whose ``platform`` is signed in as a
member of ``namespace_id``, and whose ``stranger`` is signed in as a user of another namespace.
Every adapter (the HTTP client against a live server, the in-process platform) passes these
unchanged; in particular a stranger gets ``NotFound`` for what is not theirs, as the API's 404.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from floww.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProviderNotConfigured,
    Unauthenticated,
    UserCodeError,
)
from floww.domain.model import (
    CodeBundle,
    InvocationResult,
    ProviderRef,
    RuntimeTarget,
    TriggerSpec,
)
from floww.domain.oci import runtime_repository
from floww.ports.platform import Platform

BUILTIN = ProviderRef("builtin")
SLACK_OPS = ProviderRef("slack", "ops")
SLACK_CONFIG = {"bot_token": "xoxb-contract", "signing_secret": "signing-contract"}

HELLO = CodeBundle(
    "main.py",
    {
        "main.py": "from floww import Builtin\n"
        "builtin = Builtin()\n"
        "@builtin.webhook('/hello', methods=['POST'])\n"
        "def hello(ctx, event):\n"
        "    return {'hi': True}\n"
    },
)
HELLO_TRIGGER = TriggerSpec(BUILTIN, "webhook", {"path": "/hello", "methods": ["POST"]})

USES_SLACK = CodeBundle(
    "main.py",
    {
        "main.py": "from floww import Builtin, Slack\n"
        "builtin = Builtin()\n"
        "slack = Slack('ops')\n"
        "@builtin.manual('go')\n"
        "def go(ctx, event):\n"
        "    return None\n"
    },
)


@attrs.frozen
class PlatformHarness:
    """A platform signed in as a member of ``namespace_id``; ``stranger`` is the same server
    signed in as someone who is not (with a namespace of their own)."""

    platform: Platform
    namespace_id: str
    stranger: Platform
    stranger_namespace_id: str
    with_token: Callable[[str], Platform]
    """The same server signed in with another token (a dev token, say)."""
    send_webhook: Callable[[str, bytes], tuple[int, Any]]
    """POST a JSON body to a webhook URL the platform gave out; the status and decoded body."""


def name() -> str:
    return f"flow-{uuid.uuid4().hex[:10]}"


def image_ref(namespace_id: str) -> str:
    return f"{runtime_repository(namespace_id)}:contract"


# configuration and workflows ------------------------------------------------------------------


def test_runtime_target_names_a_platform(platform_harness: PlatformHarness) -> None:
    target = platform_harness.platform.runtime_target()
    assert isinstance(target, RuntimeTarget)
    # An OCI platform ("linux/amd64"), or "local" for the embedded host's own interpreter.
    assert target.platform and target.python_version.count(".") == 1


def test_a_created_workflow_is_found_by_id_and_name(platform_harness: PlatformHarness) -> None:
    platform, namespace_id = platform_harness.platform, platform_harness.namespace_id
    created = platform.create_workflow(namespace_id, name())
    assert created.namespace_id == namespace_id
    assert platform.get_workflow(created.id) == created
    assert platform.find_workflow(namespace_id, created.name) == created
    assert platform.find_workflow(namespace_id, name()) is None


def test_a_workflow_name_is_unique_in_its_namespace(platform_harness: PlatformHarness) -> None:
    platform, namespace_id = platform_harness.platform, platform_harness.namespace_id
    created = platform.create_workflow(namespace_id, name())
    with pytest.raises(Conflict):
        platform.create_workflow(namespace_id, created.name)


def test_unknown_workflows_are_not_found(platform_harness: PlatformHarness) -> None:
    with pytest.raises(NotFound):
        platform_harness.platform.get_workflow("wf_unknown")


def test_a_stranger_finds_none_of_the_namespaces_workflows(
    platform_harness: PlatformHarness,
) -> None:
    h = platform_harness
    created = h.platform.create_workflow(h.namespace_id, name())
    with pytest.raises(NotFound):
        h.stranger.get_workflow(created.id)
    with pytest.raises(NotFound):
        h.stranger.find_workflow(h.namespace_id, created.name)
    with pytest.raises(NotFound):
        h.stranger.create_workflow(h.namespace_id, name())


# providers ------------------------------------------------------------------------------------


def test_provider_fields_come_from_the_catalog(platform_harness: PlatformHarness) -> None:
    fields = platform_harness.platform.provider_fields("slack")
    assert {"bot_token", "signing_secret"} <= {field.name for field in fields}
    with pytest.raises(NotFound):
        platform_harness.platform.provider_fields("no-such-provider")


def test_a_provider_set_up_is_in_the_configs(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    provider = h.platform.setup_provider(h.namespace_id, SLACK_OPS, dict(SLACK_CONFIG))
    assert provider.ref == SLACK_OPS and provider.namespace_id == h.namespace_id
    assert h.platform.provider_configs(h.namespace_id)["slack:ops"] == SLACK_CONFIG
    replaced = {**SLACK_CONFIG, "bot_token": "xoxb-rotated"}
    again = h.platform.setup_provider(h.namespace_id, SLACK_OPS, replaced)
    assert again.id == provider.id
    assert h.platform.provider_configs(h.namespace_id)["slack:ops"] == replaced


def test_a_provider_config_missing_a_field_is_refused(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    with pytest.raises(InvalidInput):
        h.platform.setup_provider(h.namespace_id, SLACK_OPS, {"bot_token": "xoxb-only"})
    assert "slack:ops" not in h.platform.provider_configs(h.namespace_id)


def test_a_stranger_neither_reads_nor_sets_the_namespaces_providers(
    platform_harness: PlatformHarness,
) -> None:
    h = platform_harness
    h.platform.setup_provider(h.namespace_id, SLACK_OPS, dict(SLACK_CONFIG))
    with pytest.raises(NotFound):
        h.stranger.provider_configs(h.namespace_id)
    with pytest.raises(NotFound):
        h.stranger.setup_provider(h.namespace_id, SLACK_OPS, dict(SLACK_CONFIG))
    assert h.platform.provider_configs(h.namespace_id)["slack:ops"] == SLACK_CONFIG
    assert "slack:ops" not in h.stranger.provider_configs(h.stranger_namespace_id)


# dev sessions ---------------------------------------------------------------------------------


def test_dev_triggers_give_webhook_urls_and_clear(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    workflow = h.platform.create_workflow(h.namespace_id, name())
    cron = TriggerSpec(BUILTIN, "cron", {"expression": "*/5 * * * *"})
    urls = h.platform.sync_dev_triggers(workflow.id, [HELLO_TRIGGER, cron])
    # Each entry is "<METHOD> <URL>".
    assert len(urls) == 1 and urls[0].startswith("POST http") and urls[0].endswith("/hello")
    assert f"/webhook/{workflow.id}/" in urls[0]
    assert h.platform.sync_dev_triggers(workflow.id, [HELLO_TRIGGER]) == urls
    h.platform.clear_dev_triggers(workflow.id)
    with pytest.raises(NotFound):
        h.stranger.sync_dev_triggers(workflow.id, [HELLO_TRIGGER])


def test_dev_tokens_and_subscriptions_are_for_members(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    workflow = h.platform.create_workflow(h.namespace_id, name())
    token = h.platform.dev_token(workflow.id)
    assert isinstance(token, str) and token
    subscription = h.platform.subscribe(workflow.id)
    try:
        assert subscription.get(timeout=0.05) is None
    finally:
        subscription.close()
    with pytest.raises(NotFound):
        h.stranger.dev_token(workflow.id)


def test_a_stranger_may_not_subscribe(platform_harness: PlatformHarness) -> None:
    """The realtime edge refuses the channel (Centrifugo's error 103): ``PermissionDenied``."""
    h = platform_harness
    workflow = h.platform.create_workflow(h.namespace_id, name())
    with pytest.raises(PermissionDenied):
        h.stranger.subscribe(workflow.id)


def test_a_dev_token_runs_code_but_reads_no_provider_configs(
    platform_harness: PlatformHarness,
) -> None:
    """A dev token goes into the user's code (its ``ctx.kv`` calls); the namespace's provider
    credentials are for the signed-in developer only."""
    h = platform_harness
    h.platform.setup_provider(h.namespace_id, SLACK_OPS, dict(SLACK_CONFIG))
    workflow = h.platform.create_workflow(h.namespace_id, name())
    as_code = h.with_token(h.platform.dev_token(workflow.id))
    with pytest.raises((PermissionDenied, NotFound)):
        as_code.provider_configs(h.namespace_id)
    with pytest.raises((PermissionDenied, NotFound)):
        as_code.create_workflow(h.namespace_id, name())


def test_a_reply_nobody_waits_for_is_refused(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    workflow = h.platform.create_workflow(h.namespace_id, name())
    answer = InvocationResult(ok=True, result={"n": 1})
    with pytest.raises((NotFound, Unauthenticated)):
        h.platform.reply(workflow.id, "ex_nobody", h.platform.dev_token(workflow.id), answer)
    with pytest.raises((NotFound, Unauthenticated)):
        h.stranger.reply(workflow.id, "ex_nobody", "forged", answer)


# runtimes and deployments ---------------------------------------------------------------------


def test_a_runtime_is_created_once_per_spec_hash(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    spec_hash = uuid.uuid4().hex
    assert h.platform.find_runtime(h.namespace_id, spec_hash) is None
    runtime = h.platform.create_runtime(h.namespace_id, spec_hash, image_ref(h.namespace_id))
    assert runtime.namespace_id == h.namespace_id and runtime.spec_hash == spec_hash
    found = h.platform.find_runtime(h.namespace_id, spec_hash)
    assert found is not None and found.id == runtime.id
    again = h.platform.create_runtime(h.namespace_id, spec_hash, image_ref(h.namespace_id))
    assert again.id == runtime.id


def test_runtimes_come_from_the_namespaces_own_images(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    with pytest.raises(NotFound):
        h.stranger.create_runtime(h.namespace_id, uuid.uuid4().hex, image_ref(h.namespace_id))
    with pytest.raises(NotFound):
        h.stranger.find_runtime(h.namespace_id, uuid.uuid4().hex)
    foreign = image_ref(h.stranger_namespace_id)
    with pytest.raises(PermissionDenied):
        h.platform.create_runtime(h.namespace_id, uuid.uuid4().hex, foreign)


def _runtime_id(h: PlatformHarness) -> str:
    spec_hash = uuid.uuid4().hex
    return h.platform.create_runtime(h.namespace_id, spec_hash, image_ref(h.namespace_id)).id


def test_plan_then_deploy_then_plan_again(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    workflow = h.platform.create_workflow(h.namespace_id, name())
    plan = h.platform.plan_deployment(workflow.id, [HELLO_TRIGGER])
    assert (plan.added, plan.removed, plan.kept) == ((HELLO_TRIGGER,), (), ())
    assert not h.platform.has_active_deployment(workflow.id)
    receipt = h.platform.create_deployment(
        workflow.id,
        runtime_id=_runtime_id(h),
        code=HELLO,
        triggers=[HELLO_TRIGGER],
        provider_mapping={},
    )
    assert receipt.deployment.workflow_id == workflow.id
    assert receipt.diff.added == (HELLO_TRIGGER,)
    assert h.platform.has_active_deployment(workflow.id)
    assert len(receipt.webhook_urls) == 1 and receipt.webhook_urls[0].endswith("/hello")
    replan = h.platform.plan_deployment(workflow.id, [HELLO_TRIGGER])
    assert (replan.added, replan.removed, replan.kept) == ((), (), (HELLO_TRIGGER,))


def test_code_that_does_not_load_is_not_deployed(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    workflow = h.platform.create_workflow(h.namespace_id, name())
    broken = CodeBundle("main.py", {"main.py": "raise RuntimeError('nope')\n"})
    with pytest.raises(UserCodeError):
        h.platform.create_deployment(
            workflow.id, runtime_id=_runtime_id(h), code=broken, triggers=[], provider_mapping={}
        )
    assert h.platform.plan_deployment(workflow.id, []).kept == ()


def test_a_deployment_needs_its_providers_configured(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    workflow = h.platform.create_workflow(h.namespace_id, name())
    go = TriggerSpec(BUILTIN, "manual", {"name": "go"})
    with pytest.raises(ProviderNotConfigured):
        h.platform.create_deployment(
            workflow.id,
            runtime_id=_runtime_id(h),
            code=USES_SLACK,
            triggers=[go],
            provider_mapping={},
        )


def test_a_stranger_cannot_deploy_or_plan(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    workflow = h.platform.create_workflow(h.namespace_id, name())
    runtime_id = _runtime_id(h)
    with pytest.raises(NotFound):
        h.stranger.plan_deployment(workflow.id, [HELLO_TRIGGER])
    with pytest.raises(NotFound):
        h.stranger.create_deployment(
            workflow.id,
            runtime_id=runtime_id,
            code=HELLO,
            triggers=[HELLO_TRIGGER],
            provider_mapping={},
        )


# dev events: a webhook delivered to the session, answered through the platform -------------


@attrs.define
class _PendingWebhook:
    """A webhook request in flight on a thread while the test answers its dev event."""

    thread: threading.Thread
    outcome: list[tuple[int, Any]]

    def answer(self, timeout: float = 10) -> tuple[int, Any]:
        self.thread.join(timeout)
        assert self.outcome, "the webhook request did not finish"
        return self.outcome[0]


def _dev_event(h: PlatformHarness) -> tuple[str, dict[str, Any], _PendingWebhook]:
    workflow = h.platform.create_workflow(h.namespace_id, name())
    (entry,) = h.platform.sync_dev_triggers(workflow.id, [HELLO_TRIGGER])
    url = entry.split(" ", 1)[1]
    subscription = h.platform.subscribe(workflow.id)
    try:
        outcome: list[tuple[int, Any]] = []
        thread = threading.Thread(
            target=lambda: outcome.append(h.send_webhook(url, b'{"who": "ada"}')), daemon=True
        )
        thread.start()
        message = subscription.get(timeout=10)
    finally:
        subscription.close()
    assert message is not None and message["type"] == "event", message
    return workflow.id, message, _PendingWebhook(thread, outcome)


def test_a_dev_event_is_answered_through_the_platform(platform_harness: PlatformHarness) -> None:
    h = platform_harness
    workflow_id, event, pending = _dev_event(h)
    assert event["event"]["body"] == {"who": "ada"}
    answer = InvocationResult(ok=True, result={"hello": "ada"})
    h.platform.reply(workflow_id, event["reply_to"], event["token"], answer)
    assert pending.answer() == (200, {"hello": "ada"})


def test_a_stranger_cannot_answer_a_dev_event(platform_harness: PlatformHarness) -> None:
    """Even holding the event's token, someone who cannot see the workflow gets ``NotFound``."""
    h = platform_harness
    workflow_id, event, pending = _dev_event(h)
    answer = InvocationResult(ok=True, result={"from": "stranger"})
    with pytest.raises(NotFound):
        h.stranger.reply(workflow_id, event["reply_to"], event["token"], answer)
    h.platform.reply(
        workflow_id, event["reply_to"], event["token"], InvocationResult(ok=True, result=1)
    )
    assert pending.answer() == (200, 1)


def test_an_events_token_reads_no_provider_configs(platform_harness: PlatformHarness) -> None:
    """The token sent with an event goes into the user's code: it answers that event and calls
    the KV store, and never reads the namespace's provider credentials."""
    h = platform_harness
    h.platform.setup_provider(h.namespace_id, SLACK_OPS, dict(SLACK_CONFIG))
    workflow_id, event, pending = _dev_event(h)
    try:
        with pytest.raises((PermissionDenied, NotFound)):
            h.with_token(event["token"]).provider_configs(h.namespace_id)
    finally:
        done = InvocationResult(ok=True, result=None)
        h.platform.reply(workflow_id, event["reply_to"], event["token"], done)
    assert pending.answer()[0] in (200, 204)
