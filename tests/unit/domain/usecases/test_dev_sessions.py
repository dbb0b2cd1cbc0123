"""Dev sessions keyed by session (issue 8 item 5), on the in-memory adapters: two sessions of
one workflow both see every event and exactly one, the most recently connected, answers it;
stopping one leaves the other's triggers routed; a session that stops renewing is dropped."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from floww.adapters.inprocess import InProcessRunner
from floww.adapters.memory import ManualClock, ScriptedPrompter
from floww.adapters.memory.platform import InProcessPlatform
from floww.domain.errors import InvalidInput, NotFound
from floww.domain.model import (
    CodeBundle,
    Principal,
    ProviderRef,
    RuntimeTarget,
    TriggerSource,
    TriggerSpec,
    Workflow,
)
from floww.domain.usecases.deps import ServerDeps, ServerSettings
from floww.domain.usecases.dev import (
    DevEvent,
    DevSession,
    handle_dev_event,
    renew_dev,
    start_dev,
    stop_dev,
)
from floww.domain.usecases.dev_sessions import dev_answerer, open_dev_session, renew_dev_session
from floww.domain.usecases.webhooks import IncomingRequest, WebhookResponse, handle_webhook
from floww.domain.usecases.workflows import create_namespace, create_workflow
from floww.ports.realtime import Subscription, workflow_channel
from floww.sdk.catalog import fields_for
from tests.support import memory_deps


def _code(name: str, path: str = "/hi") -> CodeBundle:
    source = textwrap.dedent(
        f"""
        from floww import Builtin
        builtin = Builtin()

        @builtin.webhook("{path}", methods=["POST"])
        def hi(ctx, event):
            return {{"who": "{name}"}}
        """
    )
    return CodeBundle("main.py", {"main.py": source})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC))


@pytest.fixture
def deps(clock: ManualClock) -> Iterator[ServerDeps]:
    settings = ServerSettings(response_deadline_s=5, dev_lease_s=30)
    with memory_deps(clock=clock, settings=settings) as deps:
        yield deps


@pytest.fixture
def user(deps: ServerDeps) -> Principal:
    return deps.identity.create_user("dev@x")  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def workflow(deps: ServerDeps, user: Principal) -> Workflow:
    namespace = create_namespace(deps, user, "acme")
    return create_workflow(deps, user, namespace.id, "wf")


def _session(deps: ServerDeps, user: Principal, workflow: Workflow, name: str) -> DevSession:
    platform = InProcessPlatform(
        deps, user, target=RuntimeTarget("local", "3.11"), provider_fields=fields_for
    )
    session = DevSession(
        workflow=workflow,
        read_code=lambda: _code(name),
        platform=platform,
        runner=InProcessRunner(),
        prompter=ScriptedPrompter(),
        session_id=f"dev_{name}",
    )
    assert start_dev(session).ok
    return session


def _call(deps: ServerDeps, workflow: Workflow, path: str = "/hi") -> WebhookResponse:
    request = IncomingRequest(
        workflow.id, "POST", path, {"content-type": "application/json"}, {}, b"{}"
    )
    return handle_webhook(deps, request)


def _deliver(
    deps: ServerDeps, workflow: Workflow, listeners: dict[str, tuple[DevSession, Subscription]]
) -> tuple[WebhookResponse, dict[str, DevEvent]]:
    """Send a webhook while every listening session handles what it receives."""
    answer: list[WebhookResponse] = []
    caller = threading.Thread(target=lambda: answer.append(_call(deps, workflow)))
    caller.start()
    done: dict[str, DevEvent] = {}
    for name, (session, subscription) in listeners.items():
        message: Any = subscription.get(timeout=5)
        assert message is not None, f"session {name} saw no event"
        event = handle_dev_event(session, message)
        assert event is not None
        done[name] = event
    caller.join(10)
    return answer[0], done


def test_two_sessions_both_see_every_event_and_the_newest_answers(
    deps: ServerDeps, clock: ManualClock, user: Principal, workflow: Workflow
) -> None:
    first = _session(deps, user, workflow, "first")
    clock.advance(1)
    second = _session(deps, user, workflow, "second")
    channel = workflow_channel(workflow.id)
    listeners = {
        "first": (first, deps.realtime.subscribe(channel)),
        "second": (second, deps.realtime.subscribe(channel)),
    }
    for _ in range(3):
        response, done = _deliver(deps, workflow, listeners)
        assert (response.status, response.body) == (200, {"who": "second"})
        assert not done["second"].observed and done["second"].reply_error is None
        assert done["first"].observed and done["first"].elsewhere


def test_stopping_one_session_leaves_the_other_answering(
    deps: ServerDeps, clock: ManualClock, user: Principal, workflow: Workflow
) -> None:
    first = _session(deps, user, workflow, "first")
    clock.advance(1)
    second = _session(deps, user, workflow, "second")
    channel = workflow_channel(workflow.id)
    first_sub = deps.realtime.subscribe(channel)
    stop_dev(second)  # the answering session stops
    assert [
        t.spec.input["path"] for t in deps.repo.list_triggers(workflow.id, TriggerSource.DEV)
    ] == ["/hi"]
    response, done = _deliver(deps, workflow, {"first": (first, first_sub)})
    assert (response.status, response.body) == (200, {"who": "first"})
    assert not done["first"].observed

    clock.advance(1)
    third = _session(deps, user, workflow, "third")
    stop_dev(first)  # a session that does not answer stops: the answerer keeps its triggers
    response, _ = _deliver(deps, workflow, {"third": (third, deps.realtime.subscribe(channel))})
    assert (response.status, response.body) == (200, {"who": "third"})


def test_the_answerer_routes_its_own_triggers(
    deps: ServerDeps, clock: ManualClock, user: Principal, workflow: Workflow
) -> None:
    first = _session(deps, user, workflow, "first")
    assert first.webhook_urls
    clock.advance(1)
    open_dev_session(deps, user, workflow.id, [], "dev_quiet")  # newest; declares nothing
    assert deps.repo.list_triggers(workflow.id, TriggerSource.DEV) == []
    with pytest.raises(NotFound):
        _call(deps, workflow)
    stop_dev(
        DevSession(
            workflow,
            first.read_code,
            first.platform,
            first.runner,
            first.prompter,
            session_id="dev_quiet",
        )
    )
    assert len(deps.repo.list_triggers(workflow.id, TriggerSource.DEV)) == 1


def test_a_session_that_stops_renewing_is_dropped_when_its_lease_lapses(
    deps: ServerDeps, clock: ManualClock, user: Principal, workflow: Workflow
) -> None:
    first = _session(deps, user, workflow, "first")
    clock.advance(1)
    second = _session(deps, user, workflow, "second")
    for _ in range(3):  # the first keeps renewing, the second died without saying so
        clock.advance(deps.settings.dev_lease_s / 2)
        assert renew_dev(first) is False
    answerer = dev_answerer(deps, workflow.id)
    assert answerer is not None and answerer.session_id == first.session_id
    response, _ = _deliver(
        deps, workflow, {"first": (first, deps.realtime.subscribe(workflow_channel(workflow.id)))}
    )
    assert (response.status, response.body) == (200, {"who": "first"})

    clock.advance(deps.settings.dev_lease_s)  # now the first lapses too
    response = _call(deps, workflow)
    assert response.status == 503 and response.body["error"]["type"] == "NoDevSession"
    assert renew_dev(second) is True  # a dropped session registers again when it renews
    assert dev_answerer(deps, workflow.id) is not None


def test_a_session_of_another_tenant_cannot_be_renewed_or_named_badly(
    deps: ServerDeps, user: Principal, workflow: Workflow
) -> None:
    stranger: Principal = deps.identity.create_user("eve@x")  # type: ignore[attr-defined]
    open_dev_session(deps, user, workflow.id, [], "dev_mine")
    with pytest.raises(NotFound):
        renew_dev_session(deps, stranger, workflow.id, "dev_mine")
    with pytest.raises(InvalidInput):
        open_dev_session(deps, user, workflow.id, [], "no spaces allowed")


def test_dev_triggers_of_one_provider_alias_share_its_stable_url(
    deps: ServerDeps, user: Principal, workflow: Workflow
) -> None:
    """A dev session gets the deployment's stable provider URL: one per alias, whatever the
    filters, so a branch changed while developing keeps the URL set at the provider."""
    github = ProviderRef("github", "default")

    def push(branch: str) -> TriggerSpec:
        return TriggerSpec(github, "push", {"owner": "a", "repository": "b", "branch": branch})

    urls = open_dev_session(deps, user, workflow.id, [push("main"), push("release")], "s1")
    assert urls == (f"POST {deps.settings.base_url}/webhook/{workflow.id}/github/default",)
    assert open_dev_session(deps, user, workflow.id, [push("stable")], "s1") == urls
