"""Server-side use cases on the in-memory adapters: webhook edge cases, provider deliveries,
cron ticks, manual runs, dev replies and tenant boundaries."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from floww.adapters.memory import InMemoryIdentity, ManualClock
from floww.domain.errors import (
    NotFound,
    PayloadTooLarge,
    ProviderNotConfigured,
    Unauthenticated,
)
from floww.domain.model import (
    CodeBundle,
    ExecutionStatus,
    InvocationResult,
    Principal,
    ProviderRef,
    RuntimeTarget,
    TriggerSource,
    TriggerSpec,
    Workflow,
)
from floww.domain.usecases.deployments import DeploymentRequest, create_deployment, create_runtime
from floww.domain.usecases.deps import ServerDeps, ServerSettings
from floww.domain.usecases.providers import setup_provider
from floww.domain.usecases.scheduling import invoke_manual
from floww.domain.usecases.webhooks import (
    IncomingRequest,
    deliver_dev_reply,
    dev_event_message,
    handle_webhook,
    submit_dev_reply,
)
from floww.domain.usecases.workflows import create_namespace, create_workflow
from floww.domain.verification import sign_github
from floww.entrypoints.scheduler import CronScheduler
from floww.sdk.catalog import fields_for
from tests.support import memory_deps

CODE = textwrap.dedent(
    """
    import time
    from floww import Builtin, GitHub, Response

    builtin = Builtin()
    github = GitHub()

    @builtin.webhook("/ok", methods=["POST", "PUT"])
    def ok(ctx, event):
        ctx.log.info("ok called")
        return {"method": event.method, "body": event.body}

    @builtin.webhook("/created")
    def created(ctx, event):
        return Response({"id": 7}, status=201, headers={"X-Thing": "yes"})

    @builtin.webhook("/boom")
    def boom(ctx, event):
        raise RuntimeError("secret-token-123 leaked in a message")

    @builtin.webhook("/slow")
    def slow(ctx, event):
        time.sleep(0.5)
        return "late"

    @builtin.cron("*/5 * * * *")
    def tick(ctx, event):
        ctx.log.info("tick %s", event.scheduled_time.isoformat())

    @builtin.manual("double")
    def double(ctx, event):
        return event.input["n"] * 2

    @github.on_push(owner="acme", repository="api", branch="main")
    def pushed(ctx, event):
        ctx.log.info("push by %s", event.payload["pusher"]["name"])
    """
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC))


@pytest.fixture
def deps(clock: ManualClock) -> Iterator[ServerDeps]:
    settings = ServerSettings(response_deadline_s=0.2, max_body_bytes=1000)
    with memory_deps(clock=clock, settings=settings) as deps:
        yield deps


def _user(deps: ServerDeps, email: str) -> Principal:
    assert isinstance(deps.identity, InMemoryIdentity)
    return deps.identity.create_user(email)


def _deployed(deps: ServerDeps, user: Principal, *, github_secret: str = "whsec") -> Workflow:
    namespace = create_namespace(deps, user, f"ns-{user.id[-6:].lower()}")
    workflow = create_workflow(deps, user, namespace.id, "wf")
    setup_provider(
        deps,
        user,
        namespace_id=namespace.id,
        ref=ProviderRef("github"),
        fields=fields_for("github"),
        config={"token": "ghp_x", "webhook_secret": github_secret},
    )
    runtime = create_runtime(
        deps, user, namespace_id=namespace.id, spec_hash="h", image_ref=f"floww/{namespace.id}:h"
    )
    create_deployment(
        deps,
        user,
        DeploymentRequest(workflow.id, runtime.id, CodeBundle("main.py", {"main.py": CODE})),
    )
    return workflow


def _request(
    workflow: Workflow, path: str, body: bytes = b"{}", method: str = "POST", **headers: str
) -> IncomingRequest:
    return IncomingRequest(
        workflow.id, method, path, {"content-type": "application/json", **headers}, {}, body
    )


def test_webhook_answers(deps: ServerDeps) -> None:
    workflow = _deployed(deps, _user(deps, "a@x"))
    put = handle_webhook(deps, _request(workflow, "/ok", b'{"a": 1}', method="PUT"))
    assert (put.status, put.body) == (200, {"method": "PUT", "body": {"a": 1}})
    created = handle_webhook(deps, _request(workflow, "/created"))
    assert (created.status, created.body, created.headers["x-thing"]) == (201, {"id": 7}, "yes")

    failed = handle_webhook(deps, _request(workflow, "/boom"))
    assert failed.status == 500 and "secret-token-123" not in json.dumps(failed.body)
    stored = deps.repo.get_execution(failed.execution_id or "")
    assert stored.status == ExecutionStatus.FAILED and stored.error is not None
    assert "RuntimeError" in stored.error.type

    with pytest.raises(NotFound):
        handle_webhook(deps, _request(workflow, "/nope"))
    wrong_method = handle_webhook(deps, _request(workflow, "/ok", method="DELETE"))
    assert (wrong_method.status, wrong_method.headers["allow"]) == (405, "POST, PUT")
    with pytest.raises(PayloadTooLarge):
        handle_webhook(deps, _request(workflow, "/ok", b"x" * 1001))


def test_past_the_response_deadline_answers_202_and_finishes_later(deps: ServerDeps) -> None:
    workflow = _deployed(deps, _user(deps, "a@x"))
    response = handle_webhook(deps, _request(workflow, "/slow"))
    assert response.status == 202 and response.body["execution_id"] == response.execution_id
    _settle(deps)
    assert deps.repo.get_execution(response.execution_id or "").status == ExecutionStatus.COMPLETED


def test_idempotency_key_runs_once(deps: ServerDeps) -> None:
    workflow = _deployed(deps, _user(deps, "a@x"))
    first = handle_webhook(deps, _request(workflow, "/ok", **{"idempotency-key": "k1"}))
    second = handle_webhook(deps, _request(workflow, "/ok", **{"idempotency-key": "k1"}))
    assert first.execution_id == second.execution_id and second.status == 200
    assert len(deps.repo.list_executions(workflow.id)) == 1


def test_github_delivery_is_verified_deduplicated_and_run(deps: ServerDeps) -> None:
    workflow = _deployed(deps, _user(deps, "a@x"))
    hook = next(h for h in deps.repo.list_webhooks(workflow.id) if h.owner.type == "github")
    repository = {"full_name": "acme/api", "name": "api", "owner": {"login": "acme"}}
    push = {"ref": "refs/heads/main", "pusher": {"name": "ada"}, "repository": repository}
    body = json.dumps(push).encode()
    headers = {"x-github-event": "push", "x-github-delivery": "d-1"}

    with pytest.raises(Unauthenticated):
        handle_webhook(
            deps,
            _request(workflow, hook.path, body, **headers, **{"x-hub-signature-256": "sha256=00"}),
        )
    assert deps.repo.list_executions(workflow.id) == []

    signed = {**headers, "x-hub-signature-256": sign_github("whsec", body)}
    first = handle_webhook(deps, _request(workflow, hook.path, body, **signed))
    again = handle_webhook(deps, _request(workflow, hook.path, body, **signed))
    assert first.status == again.status == 200 and again.body["duplicate"] is True
    _settle(deps)
    (execution,) = deps.repo.list_executions(workflow.id)
    assert execution.status == ExecutionStatus.COMPLETED
    assert any("push by ada" in line.message for line in execution.logs)


def test_cron_ticks_fire_once_with_the_scheduled_time(deps: ServerDeps, clock: ManualClock) -> None:
    workflow = _deployed(deps, _user(deps, "a@x"))
    one, two = CronScheduler(deps), CronScheduler(deps)
    one.run_once(), two.run_once()
    clock.advance(10 * 60)
    ticks = one.run_once() + two.run_once()
    assert [t.scheduled_at.minute for t in ticks] == [5, 10, 5, 10]
    _settle(deps)
    runs = deps.repo.list_executions(workflow.id)
    assert sorted(e.event["scheduled_time"] for e in runs) == [
        "2026-03-01T12:05:00+00:00",
        "2026-03-01T12:10:00+00:00",
    ]
    assert all(e.status == ExecutionStatus.COMPLETED for e in runs)


def test_manual_invoke(deps: ServerDeps) -> None:
    user = _user(deps, "a@x")
    workflow = _deployed(deps, user)
    execution = invoke_manual(deps, user, workflow.id, "double", {"n": 21})
    assert (execution.status, execution.result) == (ExecutionStatus.COMPLETED, 42)
    with pytest.raises(NotFound):
        invoke_manual(deps, user, workflow.id, "triple", {})


def test_other_tenants_see_nothing(deps: ServerDeps) -> None:
    owner, stranger = _user(deps, "a@x"), _user(deps, "b@x")
    workflow = _deployed(deps, owner)
    with pytest.raises(NotFound):
        invoke_manual(deps, stranger, workflow.id, "double", {"n": 1})
    with pytest.raises(NotFound):
        create_workflow(deps, stranger, workflow.namespace_id, "mine")
    with pytest.raises(NotFound):
        setup_provider(
            deps,
            stranger,
            namespace_id=workflow.namespace_id,
            ref=ProviderRef("secret", "x"),
            fields=(),
            config={"value": "v"},
        )


def test_a_deployment_using_an_unconfigured_provider_stores_nothing(deps: ServerDeps) -> None:
    user = _user(deps, "a@x")
    namespace = create_namespace(deps, user, "acme")
    workflow = create_workflow(deps, user, namespace.id, "wf")
    runtime = create_runtime(
        deps, user, namespace_id=namespace.id, spec_hash="h", image_ref=f"floww/{namespace.id}:h"
    )
    with pytest.raises(ProviderNotConfigured) as caught:
        create_deployment(
            deps,
            user,
            DeploymentRequest(workflow.id, runtime.id, CodeBundle("main.py", {"main.py": CODE})),
        )
    assert caught.value.missing == (("github", "default"),)
    assert deps.repo.find_active_deployment(workflow.id) is None
    assert deps.repo.list_triggers(workflow.id, TriggerSource.DEPLOYMENT) == []


def test_dev_replies_need_the_events_own_token(deps: ServerDeps) -> None:
    user = _user(deps, "a@x")
    token = deps.tokens.issue_execution_token(
        namespace_id="n", workflow_id="w", execution_id="e1", ttl_seconds=60
    )
    deps.replies.open("e2")
    with pytest.raises(Unauthenticated):
        submit_dev_reply(deps, execution_id="e2", token=token, result=InvocationResult(ok=True))
    assert isinstance(deps.identity, InMemoryIdentity)
    with pytest.raises(Unauthenticated):
        submit_dev_reply(
            deps,
            execution_id="e2",
            token=deps.identity.issue_token(user),
            result=InvocationResult(ok=True),
        )
    assert deps.replies.wait("e2", 0.01) is None


def test_a_verified_reply_token_must_be_the_events_execution_token(deps: ServerDeps) -> None:
    # deliver_dev_reply takes what the token verified to, so the token is verified once
    user = _user(deps, "a@x")
    token = deps.tokens.issue_execution_token(
        namespace_id="n", workflow_id="w", execution_id="e1", ttl_seconds=60
    )
    claimed = deps.tokens.verify(token)
    assert claimed is not None
    deps.replies.open("e2")
    for wrong in (claimed, user):
        with pytest.raises(Unauthenticated):
            deliver_dev_reply(
                deps, wrong, execution_id="e2", result=InvocationResult(ok=True, result=1)
            )
    assert deps.replies.wait("e2", 0.01) is None
    deps.replies.open("e1")
    deliver_dev_reply(deps, claimed, execution_id="e1", result=InvocationResult(ok=True, result=1))
    answer = deps.replies.wait("e1", 1)
    assert answer is not None and answer.result == 1


def test_a_connections_reach_is_checked_again_once_its_time_is_up(
    deps: ServerDeps, clock: ManualClock
) -> None:
    from floww.domain.model import Member
    from floww.domain.usecases.replies import ReachCache

    owner, developer = _user(deps, "a@x"), _user(deps, "b@x")
    namespace = create_namespace(deps, owner, "acme")
    workflow = create_workflow(deps, owner, namespace.id, "wf")
    deps.repo.add_member(Member(namespace.id, developer.id, "developer"))
    reach = ReachCache(ttl_s=5)
    reach.require(deps, developer, workflow.id)
    deps.repo.remove_member(namespace.id, developer.id)
    clock.advance(4.9)
    reach.require(deps, developer, workflow.id)  # trusted within its time
    clock.advance(0.2)
    with pytest.raises(NotFound):
        reach.require(deps, developer, workflow.id)
    with pytest.raises(NotFound):  # another connection checks at once
        ReachCache(ttl_s=5).require(deps, owner, "wf_missing")


def test_realtime_and_registry_access_follow_the_namespace(deps: ServerDeps) -> None:
    from floww.domain.errors import PermissionDenied
    from floww.domain.usecases.access import authorize_registry, may_subscribe

    owner, stranger = _user(deps, "a@x"), _user(deps, "b@x")
    workflow = _deployed(deps, owner)
    assert may_subscribe(deps.repo, owner, f"workflow:{workflow.id}")
    assert not may_subscribe(deps.repo, stranger, f"workflow:{workflow.id}")
    assert not may_subscribe(deps.repo, owner, "workflow:wf_missing")
    assert not may_subscribe(deps.repo, owner, f"other:{workflow.id}")

    repository = f"floww/{workflow.namespace_id}"
    authorize_registry(deps.repo, owner, repository, "push")
    with pytest.raises(PermissionDenied):
        authorize_registry(deps.repo, stranger, repository, "pull")
    pusher = Principal(
        "reg", kind="registry", namespace_id=workflow.namespace_id, scopes=(f"push:{repository}",)
    )
    authorize_registry(deps.repo, pusher, repository, "push")
    authorize_registry(deps.repo, pusher, repository, "pull")
    with pytest.raises(PermissionDenied):
        authorize_registry(deps.repo, pusher, "floww/ns_other", "push")
    with pytest.raises(PermissionDenied):
        authorize_registry(deps.repo, owner, "library/alpine", "pull")


def test_a_dev_token_reaches_its_workflows_kv_and_nothing_else(deps: ServerDeps) -> None:
    from floww.domain.errors import PermissionDenied
    from floww.domain.usecases.kv import kv_get, kv_put
    from floww.domain.usecases.triggers import issue_dev_token

    owner, stranger = _user(deps, "a@x"), _user(deps, "b@x")
    workflow = _deployed(deps, owner)
    with pytest.raises(NotFound):
        issue_dev_token(deps, stranger, workflow.id)
    principal = deps.tokens.verify(issue_dev_token(deps, owner, workflow.id))
    assert (principal.kind, principal.workflow_id) == ("execution", workflow.id)
    kv_put(deps, principal, None, "ticks", 3)
    assert kv_get(deps, owner, workflow.namespace_id, "ticks").value == 3
    with pytest.raises((NotFound, PermissionDenied)):
        create_workflow(deps, principal, workflow.namespace_id, "sneaky")


def test_with_a_deployment_the_dev_session_only_observes(deps: ServerDeps) -> None:
    from floww.domain.usecases.dev_sessions import open_dev_session as sync_dev_triggers
    from floww.ports.realtime import workflow_channel

    user = _user(deps, "a@x")
    workflow = _deployed(deps, user)
    deployed_specs = [
        t.spec for t in deps.repo.list_triggers(workflow.id, TriggerSource.DEPLOYMENT)
    ]
    sync_dev_triggers(deps, user, workflow.id, deployed_specs)
    subscription = deps.realtime.subscribe(workflow_channel(workflow.id))

    response = handle_webhook(deps, _request(workflow, "/ok", b'{"x": 1}'))
    assert (response.status, response.body) == (200, {"method": "POST", "body": {"x": 1}})
    message = subscription.get(timeout=1)
    assert message is not None and message["reply_to"] is None
    assert message["event_id"] == response.execution_id


def test_a_full_queue_refuses_before_recording_anything(deps: ServerDeps) -> None:
    import attrs

    from floww.adapters.local.dispatcher import ThreadDispatcher
    from floww.domain.errors import Overloaded

    user = _user(deps, "a@x")
    workflow = _deployed(deps, user)
    narrow = attrs.evolve(deps, dispatcher=ThreadDispatcher(concurrency=1, queue_limit=0))
    held = narrow.dispatcher.reserve(workflow.id)  # the workflow's only place
    with pytest.raises(Overloaded) as info:
        handle_webhook(narrow, _request(workflow, "/ok"))
    assert info.value.retry_after_s > 0
    with pytest.raises(Overloaded):
        invoke_manual(narrow, user, workflow.id, "double", {"n": 1})
    assert deps.repo.list_executions(workflow.id) == []
    narrow.dispatcher.reserve(deps.ids.new_id("wf")).release()  # other workflows have room
    held.release()
    assert handle_webhook(narrow, _request(workflow, "/ok")).status == 200
    (execution,) = deps.repo.list_executions(workflow.id)
    assert execution.status == ExecutionStatus.COMPLETED
    assert execution.owner == deps.owner_id and execution.lease_expires_at is not None


def test_only_executions_whose_owner_is_gone_are_recovered(
    deps: ServerDeps, clock: ManualClock
) -> None:
    from datetime import timedelta

    from floww.domain.model import Execution
    from floww.domain.usecases.recovery import recover_executions

    workflow = _deployed(deps, _user(deps, "a@x"))
    trigger = next(
        t
        for t in deps.repo.list_triggers(workflow.id, TriggerSource.DEPLOYMENT)
        if t.spec.input.get("path") == "/ok"
    )
    now = clock.now()
    lapsed = {"owner": "srv_gone", "lease_expires_at": now + timedelta(seconds=5)}
    live = {"owner": "srv_alive", "lease_expires_at": now + timedelta(hours=1)}
    event = {"method": "POST", "path": "/ok", "headers": {}, "query": {}, "body": 1}
    started = Execution(
        "exe_started", workflow.id, trigger.id, ExecutionStatus.STARTED, now, event, **lapsed
    )
    queued = Execution(
        "exe_queued", workflow.id, trigger.id, ExecutionStatus.QUEUED, now, event, **lapsed
    )
    running = Execution(
        "exe_running", workflow.id, trigger.id, ExecutionStatus.STARTED, now, event, **live
    )
    for execution in (started, queued, running):
        deps.repo.create_execution(execution)
    assert len(recover_executions(deps)) == 0  # every lease is live
    clock.advance(10)
    recovered = recover_executions(deps)
    assert [e.id for e in recovered.interrupted] == ["exe_started"]
    assert [e.id for e, _ in recovered.requeued] == ["exe_queued"]
    assert recovered.requeued[0][1].result(timeout=10).status == ExecutionStatus.COMPLETED
    interrupted = deps.repo.get_execution("exe_started")
    assert interrupted.status == ExecutionStatus.INTERRUPTED
    assert interrupted.error is not None and interrupted.error.type == "Interrupted"
    assert "may have run" in interrupted.error.message
    rerun = deps.repo.get_execution("exe_queued")
    assert (rerun.status, rerun.result) == (
        ExecutionStatus.COMPLETED,
        {"method": "POST", "body": 1},
    )
    assert rerun.owner == deps.owner_id
    assert deps.repo.get_execution("exe_running").status == ExecutionStatus.STARTED
    assert len(recover_executions(deps)) == 0


def test_a_runtime_comes_only_from_the_namespaces_own_repository(deps: ServerDeps) -> None:
    from floww.domain.errors import PermissionDenied

    user = _user(deps, "a@x")
    namespace = create_namespace(deps, user, "acme")
    with pytest.raises(PermissionDenied):
        create_runtime(
            deps, user, namespace_id=namespace.id, spec_hash="h", image_ref="floww/ns_other:h"
        )
    with pytest.raises(PermissionDenied):
        create_runtime(
            deps, user, namespace_id=namespace.id, spec_hash="h", image_ref="library/python:3.12"
        )
    assert deps.repo.find_runtime(namespace.id, "h") is None


def test_a_registry_push_token_reaches_no_api_object(deps: ServerDeps) -> None:
    from floww.domain.usecases.access import Action, require_namespace, require_workflow

    workflow = _deployed(deps, _user(deps, "a@x"))
    pusher = Principal(
        "reg", kind="registry", namespace_id=workflow.namespace_id, scopes=("push:x",)
    )
    with pytest.raises(NotFound):
        require_workflow(deps.repo, pusher, workflow.id, Action.READ)
    with pytest.raises(NotFound):
        require_namespace(deps.repo, pusher, workflow.namespace_id, Action.READ)


def test_an_idempotency_key_replays_only_its_own_endpoint(deps: ServerDeps) -> None:
    workflow = _deployed(deps, _user(deps, "a@x"))
    first = handle_webhook(deps, _request(workflow, "/ok", b'{"n": 1}', **{"idempotency-key": "k"}))
    other = handle_webhook(deps, _request(workflow, "/created", **{"idempotency-key": "k"}))
    assert first.body == {"method": "POST", "body": {"n": 1}}
    assert (other.status, other.body) == (201, {"id": 7})


@pytest.mark.parametrize(
    ("response", "status", "checks"),
    [
        (
            {"status": 200, "headers": {"Set-Cookie": "s=1", "X-A": "b"}, "body": "x"},
            200,
            {"x-a": "b"},
        ),
        (
            {"status": 200, "headers": {"Content-Type": "text/html"}, "body": "<p>"},
            200,
            {"content-security-policy": "sandbox"},
        ),
        ({"status": "abc", "headers": {}, "body": None}, 500, {}),
        ({"status": 99, "headers": {}, "body": None}, 500, {}),
        ({"status": 200, "headers": {"X-Bad": "a\r\nSet-Cookie: s=1"}, "body": None}, 500, {}),
    ],
)
def test_a_handlers_response_is_checked(
    response: dict[str, object], status: int, checks: dict[str, str]
) -> None:
    from floww.domain.model import Execution
    from floww.domain.usecases.webhooks import response_for

    execution = Execution(
        "e", "w", "t", ExecutionStatus.COMPLETED, datetime.now(UTC), result={"$response": response}
    )
    answer = response_for(execution)
    assert answer.status == status
    assert "set-cookie" not in answer.headers
    for name, value in checks.items():
        assert answer.headers[name] == value
    if status == 200:
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_dev_triggers_without_a_connected_session_answer_at_once(
    deps: ServerDeps, clock: ManualClock
) -> None:
    from floww.domain.usecases.dev_sessions import open_dev_session

    user = _user(deps, "a@x")
    namespace = create_namespace(deps, user, "acme")
    workflow = create_workflow(deps, user, namespace.id, "wf")
    spec = TriggerSpec(ProviderRef("builtin"), "webhook", {"path": "/hi", "methods": ["POST"]})
    open_dev_session(deps, user, workflow.id, [spec], "dev_gone")
    clock.advance(deps.settings.dev_lease_s)  # the session died without saying so
    response = handle_webhook(deps, _request(workflow, "/hi"))
    assert response.status == 503 and response.body["error"]["type"] == "NoDevSession"
    stored = deps.repo.get_execution(response.execution_id or "")
    assert stored.status == ExecutionStatus.FAILED


def test_an_observed_event_is_not_run_by_the_dev_session(deps: ServerDeps) -> None:
    from floww.adapters.memory import ScriptedPrompter
    from floww.adapters.memory.platform import InProcessPlatform
    from floww.domain.usecases.dev import DevSession, handle_dev_event

    class NeverRun:
        def load(self, code: CodeBundle, providers: dict[str, dict[str, str]]) -> object:
            raise AssertionError("not expected")

        def invoke(self, invocation: object) -> object:
            raise AssertionError("an observed event must not run locally")

    user = _user(deps, "a@x")
    workflow = _deployed(deps, user)
    platform = InProcessPlatform(
        deps, user, target=RuntimeTarget("local", "3.11"), provider_fields=fields_for
    )
    session = DevSession(
        workflow=workflow,
        read_code=lambda: CodeBundle("main.py", {"main.py": CODE}),
        platform=platform,
        runner=NeverRun(),  # type: ignore[arg-type]
        prompter=ScriptedPrompter(),
    )
    spec = {
        "provider": {"type": "builtin", "alias": "default"},
        "trigger_type": "webhook",
        "input": {},
    }
    message = {
        "type": "event",
        "event_id": "e",
        "trigger": spec,
        "event": {},
        "token": "t",
        "reply_to": None,
    }
    done = handle_dev_event(session, message)
    assert done is not None and done.observed and done.reply_error is None


def _settle(deps: ServerDeps) -> None:
    """Wait for the work the use cases handed to the executor and the dispatcher."""
    deps.executor.shutdown(wait=True)  # type: ignore[attr-defined]
    assert deps.dispatcher.drain(timeout=30)  # type: ignore[attr-defined]


def test_only_an_event_a_dev_session_answers_carries_a_token(deps: ServerDeps) -> None:
    workflow = _deployed(deps, _user(deps, "a@x"))
    from floww.domain.model import Execution

    trigger = deps.repo.list_triggers(workflow.id, TriggerSource.DEPLOYMENT)[0]
    execution = Execution(
        "ex_obs", workflow.id, trigger.id, ExecutionStatus.RECEIVED, deps.clock.now()
    )
    namespace_id = workflow.namespace_id
    observed = dev_event_message(deps, execution, trigger, namespace_id, awaits_reply=False)
    answered = dev_event_message(deps, execution, trigger, namespace_id, awaits_reply=True)
    assert observed["token"] is None and observed["reply_to"] is None
    principal = deps.tokens.verify(answered["token"])
    assert principal is not None and principal.execution_id == "ex_obs"


def test_a_timeout_says_what_did_not_answer() -> None:
    from floww.domain.model import ErrorInfo, Execution
    from floww.domain.usecases.webhooks import response_for

    now = datetime(2026, 1, 1, tzinfo=UTC)
    silent = Execution(
        "ex_dev",
        "wf",
        "tr",
        ExecutionStatus.TIMED_OUT,
        now,
        error=ErrorInfo("DeadlineExceeded", "the dev session did not answer in time"),
    )
    answer = response_for(silent)
    assert answer.status == 504
    assert answer.body["error"]["message"] == "the dev session did not answer in time"
    handler = Execution("ex_run", "wf", "tr", ExecutionStatus.TIMED_OUT, now)
    assert "handler ran past its deadline" in response_for(handler).body["error"]["message"]


def test_dev_sessions_that_cannot_be_read_neither_fail_nor_leak_a_deployed_run(
    deps: ServerDeps,
) -> None:
    """A deployed webhook observed by a dev session: when the dev sessions cannot be read
    (the database is away a moment), the deployment still answers and no queue place stays
    held (the workflow has one place: a leak would refuse the second call)."""
    import attrs

    from floww.adapters.local.dispatcher import ThreadDispatcher
    from floww.domain.errors import Unavailable
    from floww.domain.usecases.dev_sessions import open_dev_session

    user = _user(deps, "a@x")
    workflow = _deployed(deps, user)
    specs = [t.spec for t in deps.repo.list_triggers(workflow.id, TriggerSource.DEPLOYMENT)]
    open_dev_session(deps, user, workflow.id, specs)

    class Unreadable:
        def __getattr__(self, name: str) -> object:
            return getattr(deps.dev_sessions, name)

        def live(self, workflow_id: str, now: object) -> list[object]:
            raise Unavailable("database away")

    narrow = attrs.evolve(
        deps,
        dispatcher=ThreadDispatcher(concurrency=1, queue_limit=0),
        dev_sessions=Unreadable(),
    )
    for _ in range(2):
        assert handle_webhook(narrow, _request(workflow, "/ok", b"{}")).status == 200
