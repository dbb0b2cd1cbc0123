"""``floww dev``'s local webhook server and the platform's ingress pick the same trigger for
the same request: static paths beat templated ones, and among templates the one whose literal
segments come first, whatever order the code declares them in."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from floww.domain.errors import PayloadTooLarge
from floww.domain.model import (
    InvocationResult,
    Namespace,
    ProviderRef,
    Trigger,
    TriggerSpec,
    Workflow,
)
from floww.domain.paths import PathTemplate
from floww.domain.triggers import webhooks_for
from floww.domain.usecases.webhooks import IncomingRequest, handle_webhook
from floww.entrypoints.cli.devloop import local_webhook_app, match_webhook
from floww.entrypoints.http.errors import floww_error_response
from floww.ports.workflow_repo import WorkflowRepo
from tests.contracts.factories_memory import memory_repo
from tests.contracts.factories_sql import sqlite_repo
from tests.support import memory_deps

BUILTIN = ProviderRef("builtin")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=[memory_repo, sqlite_repo], ids=["memory", "sqlite"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[WorkflowRepo, Workflow]]:
    for repo in request.param():
        repo.create_namespace(Namespace("ns_1", "acme", T0))
        workflow = Workflow("wf_1", "ns_1", "orders", T0)
        repo.create_workflow(workflow)
        yield repo, workflow


def _hook(path: str, *methods: str) -> TriggerSpec:
    return TriggerSpec(BUILTIN, "webhook", {"path": path, "methods": list(methods) or ["POST"]})


def _install(repo: WorkflowRepo, workflow: Workflow, specs: Sequence[TriggerSpec]) -> list[Trigger]:
    """Deploy ``specs`` as the workflow's triggers, with their webhooks."""
    triggers = [Trigger(f"tr_{i}", workflow.id, spec) for i, spec in enumerate(specs)]
    hooks = [hook for trigger in triggers for hook in webhooks_for(trigger)]
    repo.replace_triggers(workflow.id, triggers[0].source, triggers, hooks)
    return triggers


def _server_pick(
    server: tuple[WorkflowRepo, Workflow], specs: Sequence[TriggerSpec], method: str, path: str
) -> TriggerSpec | None:
    """Deploy ``specs`` and ask the repo which trigger the request reaches."""
    repo, workflow = server
    triggers = _install(repo, workflow, specs)
    found = repo.find_webhooks(workflow.id, method, path)
    by_id = {trigger.id: trigger.spec for trigger in triggers}
    return by_id[found[0].trigger_id] if found else None


def _dev_pick(specs: Sequence[TriggerSpec], method: str, path: str) -> TriggerSpec | None:
    found = match_webhook(specs, method, path)
    return None if found is None else found[0]


NEW = _hook("/orders/new")
ANY = _hook("/orders/{id}")
ITEM = _hook("/orders/{id}/items")
ALL = _hook("/{kind}/{id}/items")


@pytest.mark.parametrize("specs", [[NEW, ANY], [ANY, NEW]], ids=["static first", "templated first"])
def test_static_beats_templated_in_dev_as_on_the_server(
    server: tuple[WorkflowRepo, Workflow], specs: list[TriggerSpec]
) -> None:
    for path, wanted in (("/orders/new", NEW), ("/orders/42", ANY)):
        assert _server_pick(server, specs, "POST", path) == wanted
        assert _dev_pick(specs, "POST", path) == wanted


@pytest.mark.parametrize("specs", [[ALL, ITEM], [ITEM, ALL]], ids=["wide first", "narrow first"])
def test_the_leftmost_literal_wins_in_dev_as_on_the_server(
    server: tuple[WorkflowRepo, Workflow], specs: list[TriggerSpec]
) -> None:
    assert _server_pick(server, specs, "POST", "/orders/7/items") == ITEM
    assert _dev_pick(specs, "POST", "/orders/7/items") == ITEM


def _template(segments: list[str]) -> str:
    return "/" + "/".join(f"{{p{i}}}" if s == "*" else s for i, s in enumerate(segments))


_TEMPLATE = st.lists(st.sampled_from(["a", "b", "*"]), min_size=1, max_size=3).map(_template)


def _distinct_shapes(templates: list[str]) -> list[str]:
    """One template per shape: two of one shape would be refused as a conflict."""
    by_shape = {PathTemplate.parse(t).shape: t for t in templates}
    return list(by_shape.values())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    templates=st.lists(_TEMPLATE, min_size=1, max_size=6).map(_distinct_shapes),
    request_path=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3).map(
        lambda s: "/" + "/".join(s)
    ),
)
def test_any_declared_set_routes_alike(
    server: tuple[WorkflowRepo, Workflow], templates: list[str], request_path: str
) -> None:
    specs = [_hook(t) for t in templates]
    assert _dev_pick(specs, "POST", request_path) == _server_pick(
        server, specs, "POST", request_path
    )


def test_a_known_path_with_another_method_is_405_in_dev_as_on_the_server() -> None:
    specs = [_hook("/orders/{id}", "POST", "PUT"), _hook("/orders/new", "GET")]
    with memory_deps() as deps:
        deps.repo.create_namespace(Namespace("ns_1", "acme", T0))
        workflow = Workflow("wf_1", "ns_1", "orders", T0)
        deps.repo.create_workflow(workflow)
        _install(deps.repo, workflow, specs)
        server = handle_webhook(deps, IncomingRequest("wf_1", "DELETE", "/orders/42", {}, {}, b""))

    def never(spec: TriggerSpec, event: dict[str, Any]) -> InvocationResult:
        raise AssertionError("no handler runs for a method the path does not accept")

    dev = TestClient(local_webhook_app(lambda: specs, never)).delete("/orders/42")

    assert (dev.status_code, dev.headers["allow"]) == (server.status, server.headers["allow"])
    assert dev.json() == server.body
    assert server.status == 405 and server.headers["allow"] == "POST, PUT"


def test_a_body_over_the_limit_is_refused_in_dev_as_on_the_server() -> None:
    def never(spec: TriggerSpec, event: dict[str, Any]) -> InvocationResult:
        raise AssertionError("no handler runs for a body over the limit")

    app = local_webhook_app(lambda: [NEW], never, max_body_bytes=8)
    dev = TestClient(app).post("/orders/new", content=b"x" * 9)
    server = floww_error_response(PayloadTooLarge(9, 8))

    assert dev.status_code == server.status_code == 413
    assert dev.json() == json.loads(bytes(server.body))
