"""The whole story, in memory: deploy examples/hello, call its webhook, run a dev session that
answers webhooks, reload changed code, survive broken code, and set up a missing provider."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from floww.adapters.inprocess import InProcessRunner
from floww.adapters.memory import (
    FakeImageBuilder,
    InMemoryIdentity,
    InMemoryImageRegistry,
    ScriptedPrompter,
)
from floww.adapters.memory.platform import InProcessPlatform
from floww.domain.model import ExecutionStatus, Principal, RuntimeTarget, TriggerSource
from floww.domain.usecases.deploy import DeployDeps, DeployRequest, deploy
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.dev import DevSession, handle_dev_event, reload_code, start_dev, stop_dev
from floww.domain.usecases.webhooks import IncomingRequest, WebhookResponse, handle_webhook
from floww.domain.usecases.workflows import create_namespace, create_workflow
from floww.sdk.bundle import bundle_from_directory
from floww.sdk.catalog import fields_for
from tests.support import EXAMPLES, memory_deps

EXAMPLE = EXAMPLES / "hello"
TARGET = RuntimeTarget("linux/amd64", "3.12")


@pytest.fixture
def deps() -> Iterator[ServerDeps]:
    with memory_deps() as deps:
        yield deps


@pytest.fixture
def user(deps: ServerDeps) -> Principal:
    auth = deps.identity
    assert isinstance(auth, InMemoryIdentity)
    return auth.create_user("ada@example.com")


def _post(deps: ServerDeps, workflow_id: str, path: str) -> WebhookResponse:
    request = IncomingRequest(
        workflow_id=workflow_id,
        method="POST",
        path=path,
        headers={"content-type": "application/json"},
        query={},
        body=b'{"from": "test"}',
    )
    return handle_webhook(deps, request)


def test_deploy_then_webhook_runs_the_handler(deps: ServerDeps, user: Principal) -> None:
    namespace = create_namespace(deps, user, "acme")
    platform = InProcessPlatform(deps, user, target=TARGET, provider_fields=fields_for)
    registry, builder = InMemoryImageRegistry(), FakeImageBuilder()
    request = DeployRequest(
        namespace_id=namespace.id,
        workflow_name="hello",
        code=bundle_from_directory(EXAMPLE, "main.py"),
        assume_yes=True,
    )
    tools = DeployDeps(
        platform=platform,
        registry=registry,
        builder=builder,
        runner=InProcessRunner(),
        prompter=ScriptedPrompter(),
    )
    result = deploy(tools, request)

    assert result.receipt is not None and result.built and result.uploaded
    assert any(
        url.endswith(f"/webhook/{result.workflow.id}/hello/{{name}}")
        for url in result.receipt.webhook_urls
    )
    kinds = sorted(spec.trigger_type for spec in result.diff.added)
    assert kinds == ["cron", "manual", "webhook"]

    response = _post(deps, result.workflow.id, "/hello/ada")
    assert response.status == 200
    assert response.body == {"message": "hi ada"}
    execution = deps.repo.get_execution(response.execution_id or "")
    assert execution.status == ExecutionStatus.COMPLETED
    assert execution.event["path_params"] == {"name": "ada"}
    assert any("ada" in line.message for line in execution.logs)

    again = deploy(tools, request)
    assert not again.built and not again.uploaded and not again.runtime_created
    assert builder.builds == 1 and registry.pushes == 1
    assert not again.diff.changed


def _serve_dev_events(session: DevSession, count: int) -> threading.Thread:
    subscription = session.platform.subscribe(session.workflow.id)

    def loop() -> None:
        for _ in range(count):
            message = subscription.get(timeout=5)
            if message is None:
                return
            handle_dev_event(session, message)
        subscription.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_dev_session_answers_reloads_and_sets_up_providers(
    deps: ServerDeps, user: Principal, tmp_path: Path
) -> None:
    namespace = create_namespace(deps, user, "acme")
    workflow = create_workflow(deps, user, namespace.id, "hello-dev")
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    main = project / "main.py"
    prompter = ScriptedPrompter({"secret:stripe.api_key": "sk_test_123"})
    platform = InProcessPlatform(deps, user, target=TARGET, provider_fields=fields_for)
    session = DevSession(
        workflow=workflow,
        read_code=lambda: bundle_from_directory(project, "main.py"),
        platform=platform,
        runner=InProcessRunner(),
        prompter=prompter,
    )

    assert start_dev(session).ok
    assert deps.repo.list_triggers(workflow.id, TriggerSource.DEV)
    worker = _serve_dev_events(session, 1)
    response = _post(deps, workflow.id, "/hello/grace")
    worker.join(5)
    assert (response.status, response.body) == (200, {"message": "hi grace"})
    assert deps.repo.get_execution(response.execution_id or "").status == ExecutionStatus.COMPLETED

    main.write_text(main.read_text().replace('f"hi {', 'f"hello {'))
    assert reload_code(session).ok
    worker = _serve_dev_events(session, 1)
    assert _post(deps, workflow.id, "/hello/grace").body == {"message": "hello grace"}
    worker.join(5)

    good = main.read_text()
    main.write_text(good + "\ndef broken(:\n")
    outcome = reload_code(session)
    assert not outcome.ok and outcome.error is not None
    assert outcome.error.filename == "main.py" and outcome.error.lineno == good.count("\n") + 2
    worker = _serve_dev_events(session, 1)
    assert _post(deps, workflow.id, "/hello/grace").body == {"message": "hello grace"}
    worker.join(5)

    main.write_text(
        good.replace("from floww import", "from floww import Secret,")
        + '\nstripe = Secret("stripe", fields=("api_key",))\n'
    )
    outcome = reload_code(session)
    assert outcome.ok and outcome.providers_set_up == ("secret:stripe",)
    assert [(a.provider, a.field, a.secret) for a in prompter.asked] == [
        ("secret:stripe", "api_key", True)
    ]
    assert session.providers["secret:stripe"] == {"api_key": "sk_test_123"}
    assert deps.repo.list_providers(namespace.id)[0].config == {"api_key": "sk_test_123"}

    stop_dev(session)
    assert deps.repo.list_triggers(workflow.id, TriggerSource.DEV) == []
