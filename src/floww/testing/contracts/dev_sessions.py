"""Contract of ``DevSessions``."""

from __future__ import annotations

import uuid
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
