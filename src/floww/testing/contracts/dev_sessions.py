"""Contract of ``DevSessions``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from floww.domain.errors import NotFound
from floww.domain.model import ProviderRef, TriggerSpec
from floww.ports.dev_sessions import DevSessionLease, DevSessions

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HOOK = TriggerSpec(
    ProviderRef("builtin", "default"), "webhook", {"path": "/a", "methods": ["POST"]}
)


def workflow() -> str:
    return f"wf_{uuid.uuid4().hex[:10]}"


def lease(wf: str, sid: str, at: datetime, ttl: float = 30, *specs: TriggerSpec) -> DevSessionLease:
    return DevSessionLease(wf, sid, tuple(specs), at, at + timedelta(seconds=ttl))


def test_put_stores_specs_and_live_lists_newest_first(dev_sessions: DevSessions) -> None:
    wf = workflow()
    dev_sessions.put(lease(wf, "old", T0, 30, HOOK))
    dev_sessions.put(lease(wf, "new", T0 + timedelta(seconds=1)))
    live = dev_sessions.live(wf, T0 + timedelta(seconds=2))
    assert [s.session_id for s in live] == ["new", "old"]
    assert live[1].specs == (HOOK,)


def test_put_again_keeps_connected_at_and_replaces_specs(dev_sessions: DevSessions) -> None:
    wf = workflow()
    dev_sessions.put(lease(wf, "a", T0, 30))
    stored = dev_sessions.put(lease(wf, "a", T0 + timedelta(seconds=5), 30, HOOK))
    assert stored.connected_at == T0 and stored.specs == (HOOK,)
    (live,) = dev_sessions.live(wf, T0 + timedelta(seconds=31))  # the lease moved too
    assert live.specs == (HOOK,)


def test_a_lapsed_session_is_dropped(dev_sessions: DevSessions) -> None:
    wf = workflow()
    dev_sessions.put(lease(wf, "a", T0, 10))
    assert dev_sessions.live(wf, T0 + timedelta(seconds=10)) == []
    with pytest.raises(NotFound):
        dev_sessions.renew(wf, "a", T0 + timedelta(seconds=40))


def test_renew_extends_the_lease(dev_sessions: DevSessions) -> None:
    wf = workflow()
    dev_sessions.put(lease(wf, "a", T0, 10))
    dev_sessions.renew(wf, "a", T0 + timedelta(seconds=20))
    assert [s.session_id for s in dev_sessions.live(wf, T0 + timedelta(seconds=15))] == ["a"]


def test_remove_forgets_one_session_only(dev_sessions: DevSessions) -> None:
    wf = workflow()
    dev_sessions.put(lease(wf, "a", T0))
    dev_sessions.put(lease(wf, "b", T0))
    dev_sessions.remove(wf, "a")
    dev_sessions.remove(wf, "a")  # harmless
    assert [s.session_id for s in dev_sessions.live(wf, T0)] == ["b"]


def test_workflows_are_separate(dev_sessions: DevSessions) -> None:
    one, two = workflow(), workflow()
    dev_sessions.put(lease(one, "a", T0))
    assert dev_sessions.live(two, T0) == []
    with pytest.raises(NotFound):
        dev_sessions.renew(two, "a", T0 + timedelta(seconds=5))


def test_a_lease_read_then_renewed_stays_live(dev_sessions: DevSessions) -> None:
    wf = workflow()
    dev_sessions.put(lease(wf, "a", T0, 10))
    assert [s.session_id for s in dev_sessions.live(wf, T0)] == ["a"]
    dev_sessions.renew(wf, "a", T0 + timedelta(seconds=20))
    assert [s.session_id for s in dev_sessions.live(wf, T0 + timedelta(seconds=15))] == ["a"]


def test_a_lease_read_then_lapsed_is_dropped(dev_sessions: DevSessions) -> None:
    wf = workflow()
    dev_sessions.put(lease(wf, "a", T0, 10))
    assert [s.session_id for s in dev_sessions.live(wf, T0)] == ["a"]
    assert dev_sessions.live(wf, T0 + timedelta(seconds=10)) == []


# Two replicas over one store: what one changes, the other lists (after a notification, on
# PostgreSQL: hence the wait), even when it had read the workflow's sessions before.


def _eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"the other replica never saw {what}")
        time.sleep(0.01)


def _ids(sessions: DevSessions, wf: str, now: datetime) -> list[str]:
    return [s.session_id for s in sessions.live(wf, now)]


def test_a_session_put_through_one_replica_is_live_on_the_other(
    dev_sessions_replicas: tuple[DevSessions, DevSessions],
) -> None:
    one, two = dev_sessions_replicas
    wf, now = workflow(), T0 + timedelta(seconds=2)
    one.put(lease(wf, "old", T0))
    assert _ids(one, wf, now) == ["old"]
    two.put(lease(wf, "new", T0 + timedelta(seconds=1)))
    _eventually(lambda: _ids(one, wf, now) == ["new", "old"], "the new session")
    two.put(lease(wf, "new", T0 + timedelta(seconds=1), 30, HOOK))
    _eventually(lambda: one.live(wf, now)[0].specs == (HOOK,), "the new session's triggers")


def test_a_session_removed_through_one_replica_goes_on_the_other(
    dev_sessions_replicas: tuple[DevSessions, DevSessions],
) -> None:
    one, two = dev_sessions_replicas
    wf = workflow()
    one.put(lease(wf, "a", T0))
    one.put(lease(wf, "b", T0 + timedelta(seconds=1)))
    assert _ids(one, wf, T0 + timedelta(seconds=2)) == ["b", "a"]
    two.remove(wf, "b")
    _eventually(lambda: _ids(one, wf, T0 + timedelta(seconds=2)) == ["a"], "the removal")


def test_a_session_renewed_through_one_replica_stays_live_on_the_other(
    dev_sessions_replicas: tuple[DevSessions, DevSessions],
) -> None:
    one, two = dev_sessions_replicas
    wf = workflow()
    one.put(lease(wf, "a", T0, 10))
    assert _ids(one, wf, T0) == ["a"]
    two.renew(wf, "a", T0 + timedelta(seconds=20))
    assert _ids(one, wf, T0 + timedelta(seconds=15)) == ["a"]


def test_a_renewal_through_one_replica_is_read_by_the_other(
    dev_sessions_replicas: tuple[DevSessions, DevSessions],
) -> None:
    """A renewal may revive a lease another reader had found lapsed: the other replica reads
    the renewed lease, not the one it had read before."""
    one, two = dev_sessions_replicas
    wf = workflow()
    one.put(lease(wf, "a", T0, 30))
    time.sleep(0.3)  # the put's own notification comes back and drops the copy: let it pass
    assert [s.expires_at for s in one.live(wf, T0)] == [T0 + timedelta(seconds=30)]
    two.renew(wf, "a", T0 + timedelta(seconds=100))
    renewed = [T0 + timedelta(seconds=100)]
    _eventually(lambda: [s.expires_at for s in one.live(wf, T0)] == renewed, "the renewal")
