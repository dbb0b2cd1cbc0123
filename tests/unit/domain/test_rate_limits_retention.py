"""The pure rules of rate limits (token bucket, growing delays), the limit store, and the
retention sweep over the in-memory repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww.adapters.inprocess.limit_store import ProcessLimitStore
from floww.adapters.memory import InMemorySecretBox, InMemoryWorkflowRepo, ManualClock
from floww.domain.errors import RateLimited
from floww.domain.model import Execution, ExecutionStatus, Namespace, Workflow
from floww.domain.rate_limits import Backoff, TokenBucket, after_failure, take, wait_for
from floww.domain.usecases.limits import (
    LoginLimits,
    admit_device_start,
    admit_login,
    login_succeeded,
)
from floww.domain.usecases.retention import RetentionPolicy, sweep_executions
from floww.entrypoints.retention import RetentionSweeper

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@given(
    capacity=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=80),
)
def test_a_bucket_never_admits_more_than_its_rate_allows(capacity: int, gaps: list[float]) -> None:
    rule = TokenBucket(capacity, 60.0)
    state, now, admitted = None, 0.0, 0
    for gap in gaps:
        now += gap
        state, wait = take(state, rule, now)
        if wait is None:
            admitted += 1
        else:
            assert wait > 0
            # waiting as told is enough
            assert take(state, rule, now + wait)[1] is None
    assert admitted <= capacity + now * capacity / 60.0 + 1e-9


def test_backoff_doubles_up_to_its_cap_and_forgets() -> None:
    rule = Backoff(free_failures=2, base_s=1.0, max_s=5.0, forget_after_s=100.0)
    state = None
    delays = []
    for _ in range(7):
        state = after_failure(state, rule, 0.0)
        delays.append(wait_for(state, rule, 0.0))
    assert delays == [None, None, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert wait_for(state, rule, 4.5) == 0.5
    assert wait_for(state, rule, 100.0) is None
    assert after_failure(state, rule, 100.0).count == 1  # forgotten after a quiet hour


def test_a_refused_device_start_says_when_to_retry() -> None:
    store = ProcessLimitStore()
    rule = TokenBucket(2, 60.0)
    admit_device_start(store, rule, client="a", now=0.0)
    admit_device_start(store, rule, client="a", now=0.0)
    with pytest.raises(RateLimited) as info:
        admit_device_start(store, rule, client="a", now=0.0)
    assert info.value.retry_after_s == pytest.approx(30.0)
    admit_device_start(store, rule, client="b", now=0.0)


def test_the_limit_store_stays_bounded() -> None:
    store = ProcessLimitStore(capacity=3)
    for n in range(10):
        store.update(f"k{n}", lambda state: ((state or 0) + 1, None))
    assert len(store) == 3
    assert store.update("k9", lambda state: (state, state)) == 1
    assert store.update("k0", lambda state: (state, state)) is None  # forgotten
    store.update("k9", lambda state: (None, None))
    assert store.update("k9", lambda state: (state, state)) is None


def _history(repo: InMemoryWorkflowRepo) -> tuple[Workflow, list[str]]:
    repo.create_namespace(Namespace("ns_1", "acme", T0))
    workflow = Workflow("wf_1", "ns_1", "hello", T0)
    repo.create_workflow(workflow)
    ids = []
    for n in range(9):
        execution = Execution(
            id=f"ex_{n}",
            workflow_id=workflow.id,
            trigger_id="tr_1",
            status=ExecutionStatus.COMPLETED if n != 0 else ExecutionStatus.STARTED,
            received_at=T0 + timedelta(days=n),
            event={},
        )
        repo.create_execution(execution)
        ids.append(execution.id)
    return workflow, ids


def test_a_sweep_runs_batches_until_the_policy_holds() -> None:
    clock = ManualClock(T0 + timedelta(days=10))
    repo = InMemoryWorkflowRepo(InMemorySecretBox())
    workflow, ids = _history(repo)
    policy = RetentionPolicy(max_age=timedelta(days=30), keep_per_workflow=4, batch=2)
    assert sweep_executions(repo, clock, policy) == 4
    kept = {e.id for e in repo.list_executions(workflow.id)}
    assert kept == {"ex_0", *ids[5:]}  # the running one stays, whatever its age
    clock.advance(timedelta(days=8).total_seconds())  # now T0 + 18 days: past a 10-day age
    aged = RetentionPolicy(max_age=timedelta(days=10), keep_per_workflow=100, batch=2)
    assert sweep_executions(repo, clock, aged) == 3
    assert {e.id for e in repo.list_executions(workflow.id)} == {"ex_0", "ex_8"}


def test_a_sweep_yields_between_batches() -> None:
    clock = ManualClock(T0)
    repo = InMemoryWorkflowRepo(InMemorySecretBox())
    workflow, _ = _history(repo)
    policy = RetentionPolicy(max_age=timedelta(days=365), keep_per_workflow=0, batch=3)
    assert sweep_executions(repo, clock, policy, pause=lambda: True) == 3
    sweeper = RetentionSweeper(repo, clock, policy, interval=3600, pause_s=0)
    assert sweeper.sweep() == 5
    assert [e.id for e in repo.list_executions(workflow.id)] == ["ex_0"]


def _admitted(store: ProcessLimitStore, limits: LoginLimits, account: str, tries: int) -> int:
    admitted = 0
    for _ in range(tries):
        try:
            admit_login(store, limits, account=account, client="203.0.113.7", now=100.0)
        except RateLimited:
            continue
        admitted += 1
    return admitted


def test_sign_ins_sent_together_are_counted_before_any_password_is_checked() -> None:
    """A burst is admitted all at once, before any password check can report a failure:
    each admitted attempt counts as failed at once, so the burst cannot outrun the backoff."""
    store, limits = ProcessLimitStore(), LoginLimits()
    assert _admitted(store, limits, "ada@example.com", 60) == limits.account.free_failures + 1
    login_succeeded(store, account="ada@example.com", client="203.0.113.7")
    assert _admitted(store, limits, "ada@example.com", 1) == 1
