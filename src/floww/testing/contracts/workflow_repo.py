"""Contract of ``WorkflowRepo``: every adapter passes these unchanged."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from floww.domain.errors import Conflict, InvalidInput, NotFound
from floww.domain.model import (
    CodeBundle,
    Deployment,
    DeploymentStatus,
    ErrorInfo,
    Execution,
    ExecutionStatus,
    LogLine,
    Member,
    Namespace,
    Provider,
    ProviderRef,
    Runtime,
    RuntimeStatus,
    Trigger,
    TriggerSource,
    TriggerSpec,
    Webhook,
    Workflow,
)
from floww.ports.workflow_repo import WorkflowRepo

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BUILTIN = ProviderRef("builtin")


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def make_namespace(repo: WorkflowRepo, name: str | None = None) -> Namespace:
    namespace = Namespace(uid("ns"), name or uid("name"), T0)
    repo.create_namespace(namespace)
    return namespace


def make_workflow(repo: WorkflowRepo, namespace: Namespace, name: str | None = None) -> Workflow:
    workflow = Workflow(uid("wf"), namespace.id, name or uid("flow"), T0)
    repo.create_workflow(workflow)
    return workflow


@pytest.fixture
def namespace(repo: WorkflowRepo) -> Namespace:
    return make_namespace(repo)


@pytest.fixture
def workflow(repo: WorkflowRepo, namespace: Namespace) -> Workflow:
    return make_workflow(repo, namespace)


def webhook_spec(path: str, method: str = "POST") -> TriggerSpec:
    return TriggerSpec(BUILTIN, "webhook", {"path": path, "methods": [method]})


def cron_spec(expression: str = "*/5 * * * *") -> TriggerSpec:
    return TriggerSpec(BUILTIN, "cron", {"expression": expression})


def trigger(
    workflow: Workflow, spec: TriggerSpec, source: TriggerSource = TriggerSource.DEPLOYMENT
) -> Trigger:
    return Trigger(uid("tr"), workflow.id, spec, source)


def webhook_for(
    trig: Trigger, path: str, method: str = "POST", owner: ProviderRef = BUILTIN
) -> Webhook:
    return Webhook(uid("wh"), trig.workflow_id, trig.id, method, path, owner, trig.source)


def execution(workflow: Workflow, **changes: Any) -> Execution:
    base = Execution(
        id=uid("ex"),
        workflow_id=workflow.id,
        trigger_id="tr_x",
        status=ExecutionStatus.RECEIVED,
        received_at=T0,
        event={"body": {"n": 1}},
    )
    return attrs.evolve(base, **changes)


def deployment(workflow: Workflow, runtime_id: str = "rt_1", **changes: Any) -> Deployment:
    base = Deployment(
        id=uid("dp"),
        workflow_id=workflow.id,
        runtime_id=runtime_id,
        code=CodeBundle("main.py", {"main.py": "print('hi')\n"}),
        triggers=(cron_spec(),),
        provider_mapping={"slack:default": "pr_1"},
        created_at=T0,
        created_by="ana@example.com",
    )
    return attrs.evolve(base, **changes)


# namespaces and members -----------------------------------------------------------------------


class TestNamespaces:
    def test_create_and_get(self, repo: WorkflowRepo) -> None:
        namespace = make_namespace(repo, "acme")
        assert repo.get_namespace(namespace.id) == namespace

    def test_get_missing_raises_not_found(self, repo: WorkflowRepo) -> None:
        with pytest.raises(NotFound) as info:
            repo.get_namespace("ns_missing")
        assert info.value.kind == "namespace"

    def test_name_is_unique(self, repo: WorkflowRepo) -> None:
        make_namespace(repo, "acme")
        with pytest.raises(Conflict):
            make_namespace(repo, "acme")

    def test_id_is_unique(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        with pytest.raises(Conflict):
            repo.create_namespace(Namespace(namespace.id, uid("other"), T0))

    def test_members_see_their_namespaces_by_name(self, repo: WorkflowRepo) -> None:
        zeta, alpha, other = (make_namespace(repo, n) for n in ("zeta", "alpha", "other"))
        repo.add_member(Member(zeta.id, "user_1"))
        repo.add_member(Member(alpha.id, "user_1", role="viewer"))
        repo.add_member(Member(other.id, "user_2"))
        assert repo.list_namespaces("user_1") == [alpha, zeta]
        assert repo.list_namespaces("nobody") == []
        assert repo.get_member(alpha.id, "user_1") == Member(alpha.id, "user_1", role="viewer")
        assert repo.get_member(alpha.id, "user_2") is None

    def test_add_member_is_idempotent(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        repo.add_member(Member(namespace.id, "user_1"))
        repo.add_member(Member(namespace.id, "user_1"))
        assert repo.list_namespaces("user_1") == [namespace]

    def test_add_member_sets_the_role_and_remove_takes_access_away(
        self, repo: WorkflowRepo, namespace: Namespace
    ) -> None:
        repo.add_member(Member(namespace.id, "user_b", role="viewer"))
        repo.add_member(Member(namespace.id, "user_a", role="owner"))
        repo.add_member(Member(namespace.id, "user_b", role="developer"))
        assert repo.list_members(namespace.id) == [
            Member(namespace.id, "user_a", "owner"),
            Member(namespace.id, "user_b", "developer"),
        ]
        repo.remove_member(namespace.id, "user_b")
        assert repo.get_member(namespace.id, "user_b") is None
        assert repo.list_namespaces("user_b") == []
        with pytest.raises(NotFound):
            repo.remove_member(namespace.id, "user_b")
        assert repo.list_members("ns_unknown") == []

    def test_a_member_needs_a_namespace(self, repo: WorkflowRepo) -> None:
        with pytest.raises(NotFound):
            repo.add_member(Member("ns_unknown", "user_1"))


# workflows ------------------------------------------------------------------------------------


class TestWorkflows:
    def test_create_get_find_list(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        beta = make_workflow(repo, namespace, "beta")
        alpha = make_workflow(repo, namespace, "alpha")
        assert repo.get_workflow(beta.id) == beta
        assert repo.find_workflow(namespace.id, "alpha") == alpha
        assert repo.find_workflow(namespace.id, "gamma") is None
        assert repo.list_workflows(namespace.id) == [alpha, beta]

    def test_get_missing_raises_not_found(self, repo: WorkflowRepo) -> None:
        with pytest.raises(NotFound) as info:
            repo.get_workflow("wf_missing")
        assert info.value.kind == "workflow"

    def test_name_is_unique_per_namespace(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        make_workflow(repo, namespace, "orders")
        with pytest.raises(Conflict):
            make_workflow(repo, namespace, "orders")
        other = make_namespace(repo)
        assert make_workflow(repo, other, "orders").namespace_id == other.id

    def test_unknown_namespace_raises_not_found(self, repo: WorkflowRepo) -> None:
        with pytest.raises(NotFound):
            repo.create_workflow(Workflow(uid("wf"), "ns_missing", "x", T0))


# providers ------------------------------------------------------------------------------------


class TestProviders:
    def test_config_round_trips(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        config = {"token": "xoxb-secret", "signing_secret": "s3cr3t ünïcode"}
        stored = repo.put_provider(Provider(uid("pr"), namespace.id, "slack", "ops", config))
        assert stored.config == config
        assert repo.find_provider(namespace.id, ProviderRef("slack", "ops")) == stored
        assert repo.find_provider(namespace.id, ProviderRef("slack")) is None

    def test_replacing_keeps_the_id(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        first = repo.put_provider(
            Provider(uid("pr"), namespace.id, "github", "default", {"a": "1"})
        )
        second = repo.put_provider(
            Provider(uid("pr"), namespace.id, "github", "default", {"a": "2"})
        )
        assert second.id == first.id
        assert second.config == {"a": "2"}
        assert repo.list_providers(namespace.id) == [second]

    def test_list_is_ordered_and_scoped(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        other = make_namespace(repo)
        slack = repo.put_provider(Provider(uid("pr"), namespace.id, "slack", "default", {}))
        gh_b = repo.put_provider(Provider(uid("pr"), namespace.id, "github", "b", {"k": "v"}))
        gh_a = repo.put_provider(Provider(uid("pr"), namespace.id, "github", "a", {}))
        repo.put_provider(Provider(uid("pr"), other.id, "github", "a", {}))
        assert repo.list_providers(namespace.id) == [gh_a, gh_b, slack]

    def test_delete(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        repo.put_provider(Provider(uid("pr"), namespace.id, "slack", "default", {}))
        repo.delete_provider(namespace.id, ProviderRef("slack"))
        assert repo.find_provider(namespace.id, ProviderRef("slack")) is None
        with pytest.raises(NotFound):
            repo.delete_provider(namespace.id, ProviderRef("slack"))

    def test_unknown_namespace_raises_not_found(self, repo: WorkflowRepo) -> None:
        with pytest.raises(NotFound):
            repo.put_provider(Provider(uid("pr"), "ns_missing", "slack", "default", {}))


# triggers and webhooks ------------------------------------------------------------------------


class TestTriggers:
    def test_replace_sets_the_whole_source(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        old = trigger(workflow, cron_spec("0 * * * *"))
        repo.replace_triggers(workflow.id, TriggerSource.DEPLOYMENT, [old], [])
        hook = trigger(workflow, webhook_spec("/a"))
        tick = trigger(workflow, cron_spec())
        wh = webhook_for(hook, "/a")
        repo.replace_triggers(workflow.id, TriggerSource.DEPLOYMENT, [hook, tick], [wh])
        assert {t.id for t in repo.list_triggers(workflow.id)} == {hook.id, tick.id}
        assert repo.list_webhooks(workflow.id) == [wh]
        assert repo.get_trigger(hook.id) == hook
        with pytest.raises(NotFound) as info:
            repo.get_trigger(old.id)
        assert info.value.kind == "trigger"

    def test_sources_are_independent(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        deployed = trigger(workflow, webhook_spec("/a"))
        dev = trigger(workflow, webhook_spec("/a"), TriggerSource.DEV)
        repo.replace_triggers(
            workflow.id, TriggerSource.DEPLOYMENT, [deployed], [webhook_for(deployed, "/a")]
        )
        repo.replace_triggers(workflow.id, TriggerSource.DEV, [dev], [webhook_for(dev, "/a")])
        assert repo.list_triggers(workflow.id, TriggerSource.DEV) == [dev]
        assert repo.list_triggers(workflow.id, TriggerSource.DEPLOYMENT) == [deployed]
        repo.replace_triggers(workflow.id, TriggerSource.DEV, [], [])
        assert repo.list_triggers(workflow.id) == [deployed]
        assert [w.trigger_id for w in repo.list_webhooks(workflow.id)] == [deployed.id]

    def test_same_method_and_path_conflict(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        first = trigger(workflow, webhook_spec("/orders/{id}"))
        second = trigger(workflow, webhook_spec("/orders/{order_id}"))
        keep = trigger(workflow, cron_spec())
        repo.replace_triggers(workflow.id, TriggerSource.DEPLOYMENT, [keep], [])
        with pytest.raises(Conflict):
            repo.replace_triggers(
                workflow.id,
                TriggerSource.DEPLOYMENT,
                [first, second],
                [webhook_for(first, "/orders/{id}"), webhook_for(second, "/orders/{order_id}")],
            )
        assert repo.list_triggers(workflow.id) == [keep]  # nothing of the failed replace

    def test_same_path_with_other_method_is_fine(
        self, repo: WorkflowRepo, workflow: Workflow
    ) -> None:
        hook = trigger(workflow, webhook_spec("/a"))
        hooks = [webhook_for(hook, "/a", "POST"), webhook_for(hook, "/a", "GET")]
        repo.replace_triggers(workflow.id, TriggerSource.DEPLOYMENT, [hook], hooks)
        assert len(repo.list_webhooks(workflow.id)) == 2

    def test_unknown_workflow_raises_not_found(self, repo: WorkflowRepo) -> None:
        with pytest.raises(NotFound):
            repo.replace_triggers("wf_missing", TriggerSource.DEPLOYMENT, [], [])

    def test_cron_triggers_of_deployments_only(
        self, repo: WorkflowRepo, namespace: Namespace
    ) -> None:
        first, second = make_workflow(repo, namespace), make_workflow(repo, namespace)
        a = trigger(first, cron_spec())
        b = trigger(second, cron_spec("0 0 * * *"))
        dev = trigger(first, cron_spec("1 * * * *"), TriggerSource.DEV)
        hook = trigger(first, webhook_spec("/x"))
        repo.replace_triggers(
            first.id, TriggerSource.DEPLOYMENT, [a, hook], [webhook_for(hook, "/x")]
        )
        repo.replace_triggers(second.id, TriggerSource.DEPLOYMENT, [b], [])
        repo.replace_triggers(first.id, TriggerSource.DEV, [dev], [])
        assert {t.id for t in repo.list_cron_triggers()} >= {a.id, b.id}
        assert not {t.id for t in repo.list_cron_triggers()} & {dev.id, hook.id}

    def test_readers_never_see_a_mix(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        batches = [
            [trigger(workflow, cron_spec(f"{m} {n} * * *")) for m in range(5)] for n in range(2)
        ]
        allowed = {frozenset(t.id for t in batch) for batch in batches}
        repo.replace_triggers(workflow.id, TriggerSource.DEPLOYMENT, batches[0], [])
        stop = threading.Event()
        seen: list[frozenset[str]] = []

        def read() -> None:
            while not stop.is_set():
                seen.append(frozenset(t.id for t in repo.list_triggers(workflow.id)))

        reader = threading.Thread(target=read)
        reader.start()
        for i in range(200):
            repo.replace_triggers(workflow.id, TriggerSource.DEPLOYMENT, batches[i % 2], [])
        stop.set()
        reader.join()
        assert seen and set(seen) <= allowed


class TestFindWebhooks:
    def install(
        self, repo: WorkflowRepo, workflow: Workflow, source: TriggerSource, *paths: str
    ) -> dict[str, Webhook]:
        triggers = [trigger(workflow, webhook_spec(p), source) for p in paths]
        hooks = {p: webhook_for(t, p) for p, t in zip(paths, triggers, strict=True)}
        repo.replace_triggers(workflow.id, source, triggers, list(hooks.values()))
        return hooks

    def test_static_beats_templated(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        hooks = self.install(
            repo, workflow, TriggerSource.DEPLOYMENT, "/orders/{id}", "/orders/new"
        )
        assert repo.find_webhooks(workflow.id, "POST", "/orders/new") == [hooks["/orders/new"]]
        assert repo.find_webhooks(workflow.id, "POST", "/orders/42") == [hooks["/orders/{id}"]]

    def test_method_and_path_must_match(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        hooks = self.install(repo, workflow, TriggerSource.DEPLOYMENT, "/hello")
        assert repo.find_webhooks(workflow.id, "post", "/hello/") == [hooks["/hello"]]
        assert repo.find_webhooks(workflow.id, "GET", "/hello") == []
        assert repo.find_webhooks(workflow.id, "POST", "/hello/there") == []
        assert repo.find_webhooks("wf_other", "POST", "/hello") == []

    def test_at_most_one_per_source(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        deployed = self.install(repo, workflow, TriggerSource.DEPLOYMENT, "/a/{x}", "/{y}/b")
        dev = self.install(repo, workflow, TriggerSource.DEV, "/a/b")
        found = repo.find_webhooks(workflow.id, "POST", "/a/b")
        by_source = {w.source: w for w in found}
        assert len(found) == 2
        assert by_source[TriggerSource.DEV] == dev["/a/b"]
        # both templates match; the one whose literal segment comes first is the more specific
        assert by_source[TriggerSource.DEPLOYMENT] == deployed["/a/{x}"]

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        segments=st.lists(st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True), min_size=1, max_size=4),
        templated=st.lists(st.booleans(), min_size=4, max_size=4),
    )
    def test_a_request_finds_the_template_it_was_rendered_from(
        self,
        repo: WorkflowRepo,
        namespace: Namespace,
        segments: list[str],
        templated: list[bool],
    ) -> None:
        workflow = make_workflow(repo, namespace)
        template = "/" + "/".join(
            f"{{p{i}}}" if is_param else seg
            for i, (seg, is_param) in enumerate(zip(segments, templated, strict=False))
        )
        hooks = self.install(repo, workflow, TriggerSource.DEPLOYMENT, template)
        request_path = "/" + "/".join(segments)
        assert repo.find_webhooks(workflow.id, "POST", request_path) == [hooks[template]]
        assert repo.find_webhooks(workflow.id, "POST", request_path + "/extra") == []
        static = self.install(repo, workflow, TriggerSource.DEV, request_path)
        found = repo.find_webhooks(workflow.id, "POST", request_path)
        assert sorted(found, key=lambda w: w.source.value) == [
            hooks[template],
            static[request_path],
        ]


class TestRoutesVersion:
    """``routes_version`` moves with every change a routing table is built from, and only
    then: a server process holding a table compares it with the stored number."""

    def test_moves_with_triggers_and_deployments(
        self, repo: WorkflowRepo, workflow: Workflow
    ) -> None:
        seen = [repo.routes_version(workflow.id)]
        assert seen[0] is not None
        trig = trigger(workflow, webhook_spec("/a"))
        repo.replace_triggers(
            workflow.id, TriggerSource.DEPLOYMENT, [trig], [webhook_for(trig, "/a")]
        )
        seen.append(repo.routes_version(workflow.id))
        repo.replace_triggers(workflow.id, TriggerSource.DEV, [], [])
        seen.append(repo.routes_version(workflow.id))
        first = deployment(workflow)
        repo.activate_deployment(first)
        seen.append(repo.routes_version(workflow.id))
        repo.activate_deployment(deployment(workflow))
        seen.append(repo.routes_version(workflow.id))
        repo.activate_deployment(first)  # a rollback
        seen.append(repo.routes_version(workflow.id))
        repo.deactivate_deployment(workflow.id)
        seen.append(repo.routes_version(workflow.id))
        assert len(set(seen)) == len(seen), seen

    def test_still_without_changes_and_per_workflow(
        self, repo: WorkflowRepo, namespace: Namespace, workflow: Workflow
    ) -> None:
        other = make_workflow(repo, namespace)
        before = repo.routes_version(workflow.id)
        trig = trigger(other, webhook_spec("/a"))
        repo.replace_triggers(other.id, TriggerSource.DEPLOYMENT, [trig], [webhook_for(trig, "/a")])
        repo.create_execution(execution(workflow))
        repo.put_provider(Provider(uid("pr"), namespace.id, "slack", "default", {"k": "v"}))
        assert repo.routes_version(workflow.id) == before

    def test_an_execution_is_stored_only_at_the_version_it_was_routed_with(
        self, repo: WorkflowRepo, workflow: Workflow
    ) -> None:
        version = repo.routes_version(workflow.id)
        assert version is not None
        routed = execution(workflow, dedupe_key="d1")
        assert repo.create_execution(routed, routes_version=version) is True
        assert repo.get_execution(routed.id) == routed
        with pytest.raises(Conflict):  # the dedupe key still counts at the right version
            repo.create_execution(execution(workflow, dedupe_key="d1"), routes_version=version)
        trig = trigger(workflow, webhook_spec("/moved"))
        repo.replace_triggers(
            workflow.id, TriggerSource.DEPLOYMENT, [trig], [webhook_for(trig, "/moved")]
        )
        late = execution(workflow)
        assert repo.create_execution(late, routes_version=version) is False
        with pytest.raises(NotFound):
            repo.get_execution(late.id)
        assert repo.create_execution(late, routes_version=repo.routes_version(workflow.id))
        assert repo.get_execution(late.id) == late
        assert repo.create_execution(execution(workflow)) is True  # no version: stored

    def test_no_execution_for_a_workflow_gone_at_its_version(
        self, repo: WorkflowRepo, workflow: Workflow
    ) -> None:
        version = repo.routes_version(workflow.id)
        assert version is not None
        repo.delete_workflow(workflow.id)
        assert repo.create_execution(execution(workflow), routes_version=version) is False

    def test_none_for_a_missing_or_deleted_workflow(
        self, repo: WorkflowRepo, workflow: Workflow
    ) -> None:
        assert repo.routes_version("wf_missing") is None
        repo.delete_workflow(workflow.id)
        assert repo.routes_version(workflow.id) is None


# runtimes -------------------------------------------------------------------------------------


class TestRuntimes:
    def test_save_get_find_update(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        runtime = Runtime(uid("rt"), namespace.id, "hash1", "memory/rt:hash1", created_at=T0)
        repo.save_runtime(runtime)
        assert repo.get_runtime(runtime.id) == runtime
        assert repo.find_runtime(namespace.id, "hash1") == runtime
        assert repo.find_runtime(namespace.id, "hash2") is None
        ready = attrs.evolve(runtime, status=RuntimeStatus.READY)
        repo.save_runtime(ready)
        assert repo.get_runtime(runtime.id).status is RuntimeStatus.READY

    def test_get_missing_raises_not_found(self, repo: WorkflowRepo) -> None:
        with pytest.raises(NotFound) as info:
            repo.get_runtime("rt_missing")
        assert info.value.kind == "runtime"

    def test_spec_hash_is_unique_per_namespace(
        self, repo: WorkflowRepo, namespace: Namespace
    ) -> None:
        repo.save_runtime(Runtime(uid("rt"), namespace.id, "same", "img"))
        with pytest.raises(Conflict):
            repo.save_runtime(Runtime(uid("rt"), namespace.id, "same", "img"))
        other = make_namespace(repo)
        repo.save_runtime(Runtime(uid("rt"), other.id, "same", "img"))


# deployments ----------------------------------------------------------------------------------


class TestDeployments:
    def test_activate_replaces_the_active_one(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        first = deployment(workflow, created_at=T0)
        assert repo.activate_deployment(first) is None
        second = deployment(workflow, created_at=T0 + timedelta(minutes=1))
        previous = repo.activate_deployment(second)
        assert previous is not None and previous.id == first.id
        assert repo.find_active_deployment(workflow.id) == second
        assert repo.get_deployment(first.id).status is DeploymentStatus.INACTIVE
        assert repo.get_deployment(second.id) == second
        assert [d.id for d in repo.list_deployments(workflow.id)] == [second.id, first.id]

    def test_code_and_triggers_round_trip(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        stored = deployment(
            workflow,
            code=CodeBundle("pkg/main.py", {"pkg/main.py": "x = 'ü'\n", "pkg/util.py": ""}),
            triggers=(webhook_spec("/a/{b}"), cron_spec()),
        )
        repo.activate_deployment(stored)
        assert repo.get_deployment(stored.id) == stored

    def test_missing(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        assert repo.find_active_deployment(workflow.id) is None
        assert repo.list_deployments(workflow.id) == []
        with pytest.raises(NotFound) as info:
            repo.get_deployment("dp_missing")
        assert info.value.kind == "deployment"

    def test_unknown_workflow_raises_not_found(self, repo: WorkflowRepo) -> None:
        missing = Workflow("wf_missing", "ns", "x", T0)
        with pytest.raises(NotFound):
            repo.activate_deployment(deployment(missing))


# executions -----------------------------------------------------------------------------------


class TestExecutions:
    def test_lapsed_executions_oldest_first_across_workflows(
        self, repo: WorkflowRepo, namespace: Namespace, workflow: Workflow
    ) -> None:
        other = make_workflow(repo, namespace)
        lease = {"owner": "srv_a", "lease_expires_at": T0 + timedelta(minutes=1)}
        old_started = execution(workflow, status=ExecutionStatus.STARTED, **lease)
        old_queued = execution(other, received_at=T0 + timedelta(seconds=1), **lease)
        no_lease = execution(
            workflow, received_at=T0 + timedelta(seconds=2), status=ExecutionStatus.QUEUED
        )
        done = execution(workflow, status=ExecutionStatus.COMPLETED, **lease)
        live = execution(
            workflow, owner="srv_b", lease_expires_at=T0 + timedelta(hours=1), received_at=T0
        )
        for item in (live, done, no_lease, old_queued, old_started):
            repo.create_execution(item)
        now = T0 + timedelta(minutes=5)
        found = repo.list_lapsed_executions(now)
        assert [e.id for e in found] == [old_started.id, old_queued.id, no_lease.id]
        assert found[0].owner == "srv_a"
        assert found[0].lease_expires_at == T0 + timedelta(minutes=1)
        assert [e.id for e in repo.list_lapsed_executions(now, limit=1)] == [old_started.id]
        assert [e.id for e in repo.list_lapsed_executions(T0)] == [no_lease.id]

    def test_renewed_leases_do_not_lapse(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        lease = {"owner": "srv_a", "lease_expires_at": T0}
        mine = execution(workflow, status=ExecutionStatus.STARTED, **lease)
        finished = execution(workflow, status=ExecutionStatus.FAILED, **lease)
        theirs = execution(workflow, owner="srv_b", lease_expires_at=T0)
        for item in (mine, finished, theirs):
            repo.create_execution(item)
        assert repo.renew_leases("srv_a", T0 + timedelta(minutes=2)) == 1
        now = T0 + timedelta(minutes=1)
        assert [e.id for e in repo.list_lapsed_executions(now)] == [theirs.id]
        assert repo.get_execution(mine.id).lease_expires_at == T0 + timedelta(minutes=2)
        assert repo.get_execution(finished.id).lease_expires_at == T0

    def test_update_never_moves_the_lease(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        queued = execution(
            workflow, status=ExecutionStatus.QUEUED, owner="srv_a", lease_expires_at=T0
        )
        repo.create_execution(queued)
        repo.renew_leases("srv_a", T0 + timedelta(minutes=2))
        stale = queued.transition(ExecutionStatus.STARTED, started_at=T0)
        repo.update_execution(attrs.evolve(stale, owner="srv_x", lease_expires_at=None))
        stored = repo.get_execution(queued.id)
        assert stored.status is ExecutionStatus.STARTED
        assert (stored.owner, stored.lease_expires_at) == ("srv_a", T0 + timedelta(minutes=2))

    def test_only_one_takes_over_a_lapsed_execution(
        self, repo: WorkflowRepo, workflow: Workflow
    ) -> None:
        lapsed = execution(workflow, owner="srv_dead", lease_expires_at=T0)
        live = execution(workflow, owner="srv_b", lease_expires_at=T0 + timedelta(hours=1))
        done = execution(workflow, status=ExecutionStatus.COMPLETED, lease_expires_at=T0)
        for item in (lapsed, live, done):
            repo.create_execution(item)
        now, until = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
        taken = repo.take_over_execution(lapsed.id, now, "srv_c", until)
        assert taken is not None
        assert (taken.id, taken.owner, taken.lease_expires_at) == (lapsed.id, "srv_c", until)
        assert repo.take_over_execution(lapsed.id, now, "srv_d", until) is None
        assert repo.take_over_execution(live.id, now, "srv_d", until) is None
        assert repo.take_over_execution(done.id, now, "srv_d", until) is None
        assert repo.take_over_execution("ex_missing", now, "srv_d", until) is None
        assert repo.get_execution(live.id).owner == "srv_b"

    def test_a_lease_is_handed_over_only_by_its_holder(
        self, repo: WorkflowRepo, workflow: Workflow
    ) -> None:
        lease = {"owner": "srv_a", "lease_expires_at": T0 + timedelta(minutes=1)}
        started = execution(workflow, status=ExecutionStatus.STARTED, **lease)
        finished = execution(workflow, status=ExecutionStatus.COMPLETED, **lease)
        for item in (started, finished):
            repo.create_execution(item)
        deadline = T0 + timedelta(minutes=10)
        assert not repo.hand_over_lease(started.id, "srv_b", "host", deadline)
        assert not repo.hand_over_lease(finished.id, "srv_a", "host", deadline)
        assert not repo.hand_over_lease("ex_missing", "srv_a", "host", deadline)
        assert repo.hand_over_lease(started.id, "srv_a", "host", deadline)
        stored = repo.get_execution(started.id)
        assert (stored.owner, stored.lease_expires_at) == ("host", deadline)
        # srv_a renews nothing of it any more; the lease lapses at the deadline.
        assert repo.renew_leases("srv_a", T0 + timedelta(hours=1)) == 0
        assert repo.list_lapsed_executions(T0 + timedelta(minutes=5)) == []
        lapsed = repo.list_lapsed_executions(T0 + timedelta(minutes=11))
        assert [e.id for e in lapsed] == [started.id]
        assert repo.get_execution(finished.id).owner == "srv_a"

    def test_create_get_update(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        created = execution(workflow, dedupe_key="delivery-1")
        repo.create_execution(created)
        assert repo.get_execution(created.id) == created
        started = created.transition(ExecutionStatus.STARTED, started_at=T0)
        repo.update_execution(started)
        done = started.transition(
            ExecutionStatus.FAILED,
            finished_at=T0 + timedelta(seconds=1),
            duration_ms=1000.5,
            error=ErrorInfo("ValueError", "bad", "Traceback..."),
            logs=(LogLine(T0, "info", "hello", {"n": 1}),),
            result={"partial": [1, 2]},
        )
        repo.update_execution(done)
        assert repo.get_execution(created.id) == done

    def test_the_event_is_the_one_it_was_created_with(
        self, repo: WorkflowRepo, workflow: Workflow
    ) -> None:
        created = execution(workflow, dedupe_key="delivery:1")
        repo.create_execution(created)
        started = attrs.evolve(
            created, status=ExecutionStatus.STARTED, started_at=T0, event={"other": True}
        )
        repo.update_execution(started)
        assert repo.get_execution(created.id) == attrs.evolve(started, event=created.event)

    def test_a_failed_create_names_its_cause(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        first = execution(workflow, dedupe_key="k")
        repo.create_execution(first)
        with pytest.raises(Conflict) as taken:
            repo.create_execution(execution(workflow, id=first.id))
        assert taken.value.details.get("execution_id") == first.id
        with pytest.raises(Conflict) as twin:
            repo.create_execution(execution(workflow, dedupe_key="k"))
        assert twin.value.details.get("execution_id") == first.id
        missing = Workflow("wf_missing", workflow.namespace_id, "x", T0)
        with pytest.raises(NotFound):
            repo.create_execution(execution(missing))

    def test_get_missing_raises_not_found(self, repo: WorkflowRepo) -> None:
        with pytest.raises(NotFound) as info:
            repo.get_execution("ex_missing")
        assert info.value.kind == "execution"

    def test_update_missing_raises_not_found(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        with pytest.raises(NotFound):
            repo.update_execution(execution(workflow))

    def test_dedupe_key_is_unique_per_workflow(
        self, repo: WorkflowRepo, namespace: Namespace, workflow: Workflow
    ) -> None:
        first = execution(workflow, dedupe_key="d-1")
        repo.create_execution(first)
        with pytest.raises(Conflict):
            repo.create_execution(execution(workflow, dedupe_key="d-1"))
        repo.create_execution(execution(workflow))
        repo.create_execution(execution(workflow))  # null keys never clash
        repo.create_execution(execution(make_workflow(repo, namespace), dedupe_key="d-1"))
        assert repo.find_execution_by_dedupe_key(workflow.id, "d-1") == first
        assert repo.find_execution_by_dedupe_key(workflow.id, "d-2") is None

    def test_id_is_unique(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        first = execution(workflow)
        repo.create_execution(first)
        with pytest.raises(Conflict):
            repo.create_execution(first)

    def test_unknown_workflow_raises_not_found(self, repo: WorkflowRepo) -> None:
        with pytest.raises(NotFound):
            repo.create_execution(execution(Workflow("wf_missing", "ns", "x", T0)))

    def test_final_status_never_changes(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        created = execution(workflow)
        repo.create_execution(created)
        done = created.transition(ExecutionStatus.COMPLETED, result=1)
        repo.update_execution(done)
        with pytest.raises(Conflict):
            repo.update_execution(attrs.evolve(done, status=ExecutionStatus.TIMED_OUT))
        assert repo.get_execution(created.id) == done

    def test_list_newest_first_with_filter_limit_and_paging(
        self, repo: WorkflowRepo, namespace: Namespace, workflow: Workflow
    ) -> None:
        made = []
        for minute in range(6):
            status = ExecutionStatus.COMPLETED if minute % 2 else ExecutionStatus.FAILED
            ex = execution(workflow, received_at=T0 + timedelta(minutes=minute), status=status)
            repo.create_execution(ex)
            made.append(ex)
        repo.create_execution(execution(make_workflow(repo, namespace)))
        newest_first = list(reversed(made))
        assert repo.list_executions(workflow.id) == newest_first
        assert repo.list_executions(workflow.id, limit=2) == newest_first[:2]
        page = repo.list_executions(workflow.id, limit=2, before=newest_first[1].received_at)
        assert page == newest_first[2:4]
        completed = repo.list_executions(workflow.id, status=ExecutionStatus.COMPLETED)
        assert completed == [ex for ex in newest_first if ex.status is ExecutionStatus.COMPLETED]
        assert repo.list_executions("wf_other") == []

    def test_list_by_trigger_and_since(self, repo: WorkflowRepo, workflow: Workflow) -> None:
        made = []
        for minute in range(4):
            trigger_id = "tr_a" if minute % 2 else "tr_b"
            ex = execution(
                workflow, received_at=T0 + timedelta(minutes=minute), trigger_id=trigger_id
            )
            repo.create_execution(ex)
            made.append(ex)
        assert repo.list_executions(workflow.id, trigger_id="tr_a") == [made[3], made[1]]
        since = T0 + timedelta(minutes=2)
        assert repo.list_executions(workflow.id, since=since) == [made[3], made[2]]
        assert repo.list_executions(workflow.id, since=since, trigger_id="tr_b") == [made[2]]
        with pytest.raises(InvalidInput):
            repo.list_executions(workflow.id, since=datetime(2026, 1, 1))

    def test_list_across_a_namespace(
        self, repo: WorkflowRepo, namespace: Namespace, workflow: Workflow
    ) -> None:
        other_workflow = make_workflow(repo, namespace)
        elsewhere = make_workflow(repo, make_namespace(repo))
        first = execution(workflow, received_at=T0, status=ExecutionStatus.FAILED)
        second = execution(other_workflow, received_at=T0 + timedelta(minutes=1))
        foreign = execution(elsewhere, received_at=T0 + timedelta(minutes=2))
        for ex in (first, second, foreign):
            repo.create_execution(ex)
        assert repo.list_namespace_executions(namespace.id) == [second, first]
        assert repo.list_namespace_executions(namespace.id, limit=1) == [second]
        assert repo.list_namespace_executions(namespace.id, before=second.received_at) == [first]
        assert repo.list_namespace_executions(namespace.id, since=second.received_at) == [second]
        failed = repo.list_namespace_executions(namespace.id, status=ExecutionStatus.FAILED)
        assert failed == [first]
        assert repo.list_namespace_executions("ns_missing") == []


# cron -----------------------------------------------------------------------------------------


class TestCronTicks:
    def test_a_tick_is_claimed_once(self, repo: WorkflowRepo) -> None:
        assert repo.claim_cron_tick("tr_1", T0) is True
        assert repo.claim_cron_tick("tr_1", T0) is False
        assert repo.claim_cron_tick("tr_1", T0 + timedelta(minutes=5)) is True
        assert repo.claim_cron_tick("tr_2", T0) is True

    def test_equal_instants_in_other_zones_are_one_tick(self, repo: WorkflowRepo) -> None:
        assert repo.claim_cron_tick("tr_1", T0)
        elsewhere = T0.astimezone(timezone(timedelta(hours=2)))
        assert repo.claim_cron_tick("tr_1", elsewhere) is False

    def test_concurrent_claims_have_one_winner(self, repo: WorkflowRepo) -> None:
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def claim() -> None:
            barrier.wait()
            results.append(repo.claim_cron_tick("tr_race", T0))

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 7 + [True]


# key-value ------------------------------------------------------------------------------------


class TestKv:
    def test_put_get_overwrite(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        item = repo.kv_put(namespace.id, "counter", {"n": 1, "tags": ["a"]}, T0)
        assert item.value == {"n": 1, "tags": ["a"]}
        assert repo.kv_get(namespace.id, "counter") == item
        later = T0 + timedelta(seconds=5)
        repo.kv_put(namespace.id, "counter", 2, later)
        again = repo.kv_get(namespace.id, "counter")
        assert (again.value, again.updated_at) == (2, later)

    def test_missing_and_delete(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        with pytest.raises(NotFound):
            repo.kv_get(namespace.id, "nope")
        repo.kv_put(namespace.id, "k", None, T0)
        assert repo.kv_get(namespace.id, "k").value is None
        repo.kv_delete(namespace.id, "k")
        with pytest.raises(NotFound):
            repo.kv_delete(namespace.id, "k")

    def test_list_by_prefix_and_namespace(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        other = make_namespace(repo)
        for key in ("b:2", "a:1", "b:1", "c"):
            repo.kv_put(namespace.id, key, key, T0)
        repo.kv_put(other.id, "b:3", 0, T0)
        assert [i.key for i in repo.kv_list(namespace.id, "b:")] == ["b:1", "b:2"]
        assert [i.key for i in repo.kv_list(namespace.id)] == ["a:1", "b:1", "b:2", "c"]

    def test_values_must_be_json(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        with pytest.raises(InvalidInput):
            repo.kv_put(namespace.id, "k", {1, 2}, T0)

    def test_stored_values_are_copies(self, repo: WorkflowRepo, namespace: Namespace) -> None:
        value = {"items": [1]}
        repo.kv_put(namespace.id, "k", value, T0)
        value["items"].append(2)
        repo.kv_get(namespace.id, "k").value["items"].append(3)
        assert repo.kv_get(namespace.id, "k").value == {"items": [1]}
