"""Scheduling the next attempt of a failed run (``floww.domain.usecases.retries``) over the
in-memory repository: what is recorded, and when nothing is."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from floww import GitHub, Retry
from floww.domain.model import (
    ErrorInfo,
    Execution,
    ExecutionStatus,
    Namespace,
    ProviderRef,
    Trigger,
    TriggerSource,
    TriggerSpec,
    Workflow,
)
from floww.domain.retry_policy import RetryPolicy
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.retries import schedule_retry
from floww.sdk.declarations import collecting
from tests.support import memory_deps

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RetryPolicy(attempts=3, backoff_s=2, max_backoff_s=60, jitter=0, on=("RuntimeError",))


@pytest.fixture
def deps() -> Iterator[ServerDeps]:
    with memory_deps() as made:
        made.repo.create_namespace(Namespace("ns_1", "ns", NOW))
        made.repo.create_workflow(Workflow("wf_1", "ns_1", "wf", NOW))
        yield made


def _trigger(source: TriggerSource = TriggerSource.DEPLOYMENT, **input: Any) -> Trigger:
    spec = TriggerSpec(ProviderRef("builtin"), "cron", {"expression": "* * * * *", **input})
    return Trigger("trg_1", "wf_1", spec, source)


def _failed(deps: ServerDeps, error: str = "RuntimeError", attempt: int = 1) -> Execution:
    execution = Execution(
        id=f"exe_{attempt}",
        workflow_id="wf_1",
        trigger_id="trg_1",
        status=ExecutionStatus.FAILED,
        received_at=NOW,
        event={"n": 1},
        error=ErrorInfo(error, "boom"),
        attempt=attempt,
        retry_of=None if attempt == 1 else "exe_1",
    )
    deps.repo.create_execution(execution)
    return execution


def test_the_next_attempt_is_recorded_to_run_once_its_backoff_ends(deps: ServerDeps) -> None:
    failed = _failed(deps)
    following = schedule_retry(deps, failed, _trigger(retry=POLICY.as_input()))
    assert following is not None
    stored = deps.repo.get_execution(following.id)
    assert stored.status is ExecutionStatus.RECEIVED and stored.owner is None
    assert (stored.attempt, stored.retry_of, stored.retry_delay_s) == (2, failed.id, 2.0)
    assert stored.event == failed.event
    assert stored.lease_expires_at is not None
    assert stored.lease_expires_at - stored.received_at == timedelta(seconds=2)
    assert deps.repo.get_execution(failed.id).status is ExecutionStatus.FAILED


def test_nothing_is_scheduled_when_the_policy_does_not_ask(deps: ServerDeps) -> None:
    retry = POLICY.as_input()
    assert schedule_retry(deps, _failed(deps, attempt=3), _trigger(retry=retry)) is None
    assert schedule_retry(deps, _failed(deps, "ValueError", 2), _trigger(retry=retry)) is None
    assert schedule_retry(deps, _failed(deps, attempt=4), _trigger()) is None
    dev = _trigger(TriggerSource.DEV, retry=retry)
    assert schedule_retry(deps, _failed(deps, attempt=5), dev) is None
    completed = attrs.evolve(_failed(deps, attempt=6), status=ExecutionStatus.COMPLETED)
    assert schedule_retry(deps, completed, _trigger(retry=retry)) is None
    assert len(deps.repo.list_executions("wf_1", limit=100)) == 5


def test_the_sdk_puts_the_policy_in_the_trigger_input() -> None:
    with collecting() as declared:
        github = GitHub()

        @github.on_push("acme", "api", retry=Retry(attempts=4, backoff_s=1, jitter=0))
        def build(ctx: object, event: object) -> None: ...

    (spec,) = [t.spec for t in declared.triggers]
    assert RetryPolicy.from_input(spec.input) == RetryPolicy(attempts=4, backoff_s=1, jitter=0)
    assert spec.input["owner"] == "acme"
