"""The compiled webhook index answers as ``floww.domain.routing`` does over every template,
and the routing-table cache follows the repository's ``routes_version``."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from floww.adapters.memory.workflow_repo import InMemoryWorkflowRepo
from floww.domain.model import (
    Namespace,
    ProviderRef,
    Trigger,
    TriggerSource,
    TriggerSpec,
    Webhook,
    Workflow,
)
from floww.domain.paths import PathTemplate
from floww.domain.routing import allowed_methods, most_specific
from floww.domain.routing_table import WebhookIndex
from floww.domain.usecases.routing_tables import RoutingTables

BUILTIN = ProviderRef("builtin")
T0 = datetime(2024, 5, 1, tzinfo=UTC)

segment = st.sampled_from(["a", "b", "c", "{x}", "{y}", "{z}"])
templates = st.lists(segment, min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))


def _unique_names(template: str) -> str:
    """Give every parameter of ``template`` its own name (a template may not repeat one)."""
    parts = [p for p in template.split("/") if p]
    return "/" + "/".join(f"{{p{i}}}" if p.startswith("{") else p for i, p in enumerate(parts))


@settings(max_examples=300, deadline=None)
@given(
    declared=st.lists(
        st.tuples(
            templates, st.sampled_from(["GET", "POST"]), st.sampled_from(list(TriggerSource))
        ),
        max_size=12,
    ),
    request=st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4),
    method=st.sampled_from(["GET", "POST", "post"]),
)
def test_index_matches_most_specific(
    declared: list[tuple[str, str, TriggerSource]], request: list[str], method: str
) -> None:
    hooks: list[Webhook] = []
    shapes: set[tuple[str, str, TriggerSource]] = set()
    for n, (raw, hook_method, source) in enumerate(declared):
        template = PathTemplate.parse(_unique_names(raw))
        if (template.shape, hook_method, source) in shapes:
            continue  # a repository refuses a second webhook of one shape
        shapes.add((template.shape, hook_method, source))
        hooks.append(
            Webhook(f"wh{n}", "wf", f"tr{n}", hook_method, template.template, BUILTIN, source)
        )
    path = "/" + "/".join(request)
    index = WebhookIndex(hooks)

    expected = []
    for source in TriggerSource:
        found = most_specific(
            (
                (PathTemplate.parse(h.path), h)
                for h in hooks
                if h.source is source and h.method == method.upper()
            ),
            path,
        )
        if found is not None:
            expected.append(found)
    assert index.find(method, path) == expected
    assert index.allowed_methods(path) == allowed_methods(
        ((h.method, PathTemplate.parse(h.path)) for h in hooks), path
    )


def test_many_templates_find_their_own() -> None:
    hooks = [
        Webhook(f"wh{i}", "wf", f"tr{i}", "POST", f"/hook{i}/{{id}}", BUILTIN) for i in range(2000)
    ]
    index = WebhookIndex(hooks)
    assert index.find("POST", "/hook1234/42") == [(hooks[1234], {"id": "42"})]
    assert index.find("POST", "/hook1234") == []


def _webhook_set(repo: InMemoryWorkflowRepo, workflow: Workflow, path: str) -> None:
    trigger = Trigger(
        f"tr_{path.strip('/')}",
        workflow.id,
        TriggerSpec(BUILTIN, "webhook", {"path": path, "methods": ["POST"]}),
    )
    hook = Webhook(f"wh_{path.strip('/')}", workflow.id, trigger.id, "POST", path, BUILTIN)
    repo.replace_triggers(workflow.id, TriggerSource.DEPLOYMENT, [trigger], [hook])


def test_cache_follows_routes_version_and_forgets_deleted_workflows() -> None:
    repo = InMemoryWorkflowRepo()
    repo.create_namespace(Namespace("ns", "ns", T0))
    workflow = Workflow("wf", "ns", "flow", T0)
    repo.create_workflow(workflow)
    tables = RoutingTables()
    _webhook_set(repo, workflow, "/one")
    first = tables.table(repo, workflow.id)
    assert first is not None and [h.path for h, _ in first.webhooks.find("POST", "/one")] == [
        "/one"
    ]
    assert tables.table(repo, workflow.id) is first  # unchanged: the same table
    _webhook_set(repo, workflow, "/two")  # as another process would, behind the cache's back
    second = tables.table(repo, workflow.id)
    assert second is not None and second is not first
    assert second.webhooks.find("POST", "/one") == []
    assert [h.path for h, _ in second.webhooks.find("POST", "/two")] == ["/two"]
    repo.delete_workflow(workflow.id)
    assert tables.table(repo, workflow.id) is None
