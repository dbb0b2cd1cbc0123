"""A call to the active deployment is handled on a lane of its workflow, with nothing recorded
while it waits for one: what its caller sees past the response deadline, what a stopping
server does to it, and a call whose route changed before it reached a lane."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from conftest import World, make_world

from floww.adapters.local.dispatcher import ThreadDispatcher
from floww.domain.errors import Unavailable
from floww.domain.model import ExecutionStatus
from floww.domain.usecases.webhooks import IncomingRequest, runs_on_lane, submit_on_lane

SLOW = """
import time
from floww import Builtin

builtin = Builtin()

@builtin.webhook("/slow", methods=["POST"])
def slow(ctx, event):
    time.sleep(float(event.query.get("s", "0")))
    return {"slept": event.query.get("s", "0")}
"""

DEADLINE_S = 0.6


@pytest.fixture
def one_lane() -> Iterator[World]:
    """A world whose workflows have one lane each and whose callers wait ``DEADLINE_S``."""
    dispatcher = ThreadDispatcher(concurrency=1, queue_limit=10, idle_s=1.0)
    for world in make_world(dispatcher=dispatcher):
        services = world.client.app.state.services  # type: ignore[attr-defined]
        settings = attrs.evolve(services.deps.settings, response_deadline_s=DEADLINE_S)
        world.client.app.state.services = attrs.evolve(  # type: ignore[attr-defined]
            services, deps=attrs.evolve(services.deps, settings=settings)
        )
        world.deps = world.client.app.state.services.deps  # type: ignore[attr-defined]
        yield world
    dispatcher.close()


def _deploy(world: World, source: str) -> str:
    return world.deploy_source(source).workflow_id


def _status(world: World, execution_id: str) -> ExecutionStatus:
    return world.repo.get_execution(execution_id).status


def _until(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "it never happened"
        time.sleep(0.02)


def test_a_call_past_the_deadline_is_answered_as_running_and_one_that_waited_as_queued(
    one_lane: World,
) -> None:
    world = one_lane
    workflow_id = _deploy(world, SLOW)
    hook = f"/webhook/{workflow_id}/slow"
    warm = world.client.post(hook)  # the routing table is in memory from here on
    assert warm.status_code == 200, warm.text
    running: list[Any] = []
    first = threading.Thread(target=lambda: running.append(world.client.post(f"{hook}?s=2")))
    first.start()
    _until(lambda: ThreadDispatcher.stats(world.deps.dispatcher, workflow_id)["busy"] == 1)  # type: ignore[arg-type]
    queued = world.client.post(f"{hook}?s=0")
    first.join(10)

    assert running[0].status_code == 202, running[0].text
    assert running[0].json()["status"] == "started"
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"
    queued_id = queued.json()["execution_id"]
    # It was recorded when its caller was answered, and runs once the lane is free.
    _until(lambda: _status(world, queued_id) is ExecutionStatus.COMPLETED)
    assert world.repo.get_execution(queued_id).result == {"slept": "0"}
    _until(lambda: _status(world, running[0].json()["execution_id"]) is ExecutionStatus.COMPLETED)


def test_a_call_waiting_for_a_lane_when_the_server_stops_is_refused_and_not_recorded(
    one_lane: World,
) -> None:
    world = one_lane
    workflow_id = _deploy(world, SLOW)
    hook = f"/webhook/{workflow_id}/slow"
    assert world.client.post(hook).status_code == 200
    before = len(world.repo.list_executions(workflow_id))
    blocker = threading.Thread(target=lambda: world.client.post(f"{hook}?s=0.5"))
    blocker.start()
    _until(lambda: ThreadDispatcher.stats(world.deps.dispatcher, workflow_id)["busy"] == 1)  # type: ignore[arg-type]
    refused: list[Any] = []
    waiting = threading.Thread(target=lambda: refused.append(world.client.post(f"{hook}?s=0")))
    waiting.start()
    _until(lambda: ThreadDispatcher.stats(world.deps.dispatcher, workflow_id)["waiting"] == 1)  # type: ignore[arg-type]
    world.deps.dispatcher.close()
    waiting.join(10)
    blocker.join(10)
    assert refused[0].status_code == 503, refused[0].text
    # the blocker's run finished and is recorded; the refused call left nothing behind
    assert len(world.repo.list_executions(workflow_id)) == before + 1


def test_a_call_whose_deployment_went_away_is_handed_back(world: World) -> None:
    """The table in memory said "deployment"; by the time the lane has the call the workflow
    was deactivated: the lane records nothing and hands the call back, and the general path
    answers it as it answers any call without a deployment."""
    workflow_id = _deploy(world, SLOW)
    request = IncomingRequest(workflow_id, "POST", "/slow", {}, {}, b"")
    assert world.client.post(f"/webhook/{workflow_id}/slow").status_code == 200
    assert runs_on_lane(world.deps, request)
    assert world.repo.deactivate_deployment(workflow_id) is not None
    assert runs_on_lane(world.deps, request)  # what is in memory still says so
    before = len(world.repo.list_executions(workflow_id))
    call = submit_on_lane(world.deps, request)
    assert call.future.result(10) is None
    assert call.execution_id is None
    assert len(world.repo.list_executions(workflow_id)) == before
    answer = world.client.post(f"/webhook/{workflow_id}/slow")
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "no_deployment"


def test_a_full_queue_refuses_the_next_call_once_the_waiting_ones_are_recorded(
    one_lane: World,
) -> None:
    """One lane and ten waiting places: a burst of eleven is all acknowledged (one running,
    ten recorded as queued when their callers' deadline passed); the twelfth call is refused
    with 503 and leaves nothing behind."""
    world = one_lane
    workflow_id = _deploy(world, SLOW)
    hook = f"/webhook/{workflow_id}/slow"
    assert world.client.post(hook).status_code == 200
    before = len(world.repo.list_executions(workflow_id))
    answers: list[Any] = []
    burst = [
        threading.Thread(target=lambda: answers.append(world.client.post(f"{hook}?s=1.5")))
        for _ in range(11)
    ]
    for thread in burst:
        thread.start()
    for thread in burst:
        thread.join(10)
    assert sorted(a.status_code for a in answers) == [202] * 11, [a.text for a in answers]
    refused = world.client.post(f"{hook}?s=0")
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["type"] == "Overloaded"
    assert len(world.repo.list_executions(workflow_id)) == before + 11


ANSWER = """
from floww import Builtin

builtin = Builtin()

@builtin.webhook("/which", methods=["POST"])
def which(ctx, event):
    return {{"code": {which!r}}}
"""


def test_a_call_after_a_deploy_runs_the_new_code_though_the_old_table_is_in_memory(
    world: World,
) -> None:
    """The lane routes with the table in memory without reading its version; the execution
    is stored only at that version, so the first call after a deploy is routed again."""
    tenant = world.deploy_source(ANSWER.format(which="one"))
    workflow_id = tenant.workflow_id
    hook = f"/webhook/{workflow_id}/which"
    assert world.client.post(hook).json() == {"code": "one"}
    old = world.deps.routing.cached(world.deps.repo, workflow_id)
    assert old is not None and old.active is not None
    tenant_headers = tenant.headers
    runtime_id = old.active.runtime_id
    redeployed = world.client.post(
        f"/api/workflows/{workflow_id}/deployments",
        json={
            "runtime_id": runtime_id,
            "code": {"entrypoint": "main.py", "files": {"main.py": ANSWER.format(which="two")}},
        },
        headers=tenant_headers,
    )
    assert redeployed.status_code == 201, redeployed.text
    assert world.deps.routing.cached(world.deps.repo, workflow_id) is old  # still in memory
    answer = world.client.post(hook)
    assert answer.json() == {"code": "two"}
    stored = world.repo.get_execution(answer.headers["x-floww-execution-id"])
    assert stored.deployment_id == redeployed.json()["deployment"]["id"]


def test_a_call_whose_queued_record_fails_at_the_deadline_is_not_run_later(
    one_lane: World,
) -> None:
    """The caller's deadline passes while its call waits for the lane, and recording it as
    queued fails (the database went away for a moment): the caller hears 503 and the lane
    drops the call when it gets there, so a retry is never run twice."""
    world = one_lane
    workflow_id = _deploy(world, SLOW)
    hook = f"/webhook/{workflow_id}/slow"
    assert world.client.post(hook).status_code == 200
    real = world.repo.create_execution
    failed: list[str] = []

    def flaky(execution: Any, **options: Any) -> bool:
        if execution.status is ExecutionStatus.QUEUED and not failed:
            failed.append(execution.id)
            raise Unavailable("the database went away for a moment")
        return real(execution, **options)

    world.repo.create_execution = flaky  # type: ignore[method-assign]
    before = len(world.repo.list_executions(workflow_id))
    blocker = threading.Thread(target=lambda: world.client.post(f"{hook}?s=1.5"))
    blocker.start()
    _until(lambda: ThreadDispatcher.stats(world.deps.dispatcher, workflow_id)["busy"] == 1)  # type: ignore[arg-type]
    answer = world.client.post(f"{hook}?s=0")
    blocker.join(10)
    _until(lambda: ThreadDispatcher.stats(world.deps.dispatcher, workflow_id)["busy"] == 0)  # type: ignore[arg-type]
    assert answer.status_code == 503, answer.text
    assert failed
    runs = world.repo.list_executions(workflow_id)
    assert len(runs) - before == 1, [r.status for r in runs]  # the blocker's own run only


def test_a_call_a_lane_took_just_before_the_deadline_is_answered_as_running(
    one_lane: World,
) -> None:
    """The lane took the call, but writing its record outlasts the caller's deadline: the
    caller is answered 202 (running) once the record is written, not after the whole run."""
    world = one_lane
    workflow_id = _deploy(world, SLOW)
    hook = f"/webhook/{workflow_id}/slow"
    assert world.client.post(hook).status_code == 200
    real = world.repo.create_execution

    def slow_write(execution: Any, **options: Any) -> bool:
        time.sleep(DEADLINE_S + 0.3)  # a write waiting on the database
        return real(execution, **options)

    world.repo.create_execution = slow_write  # type: ignore[method-assign]
    answer = world.client.post(f"{hook}?s=3")
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "started"
    execution_id = answer.json()["execution_id"]
    _until(lambda: _status(world, execution_id) is ExecutionStatus.COMPLETED)
