"""Contract of ``DeviceLoginStore``, through the ``DeviceFlow`` rules it serves. Two flows on
one store stand for two server replicas (or one server before and after a restart)."""

from __future__ import annotations

import secrets

import pytest

from floww.adapters.memory import ManualClock
from floww.domain.device_flow import DeviceFlow, DeviceLoginStore
from floww.domain.errors import Conflict, DeviceAuthorizationPending, NotFound
from floww.domain.model import Principal

ADA = Principal(id="user_ada", kind="user", email="ada@example.com")


def _flow(store: DeviceLoginStore, clock: ManualClock, **kwargs: int) -> DeviceFlow:
    return DeviceFlow(
        clock.now,
        expires_in=kwargs.get("expires_in", 600),
        interval=kwargs.get("interval", 5),
        store=store,
    )


def _code(pending: DeviceAuthorizationPending | BaseException) -> str:
    assert isinstance(pending, DeviceAuthorizationPending)
    return pending.code


def test_started_on_one_approved_and_polled_on_another(device_logins: DeviceLoginStore) -> None:
    clock = ManualClock()
    a, b = _flow(device_logins, clock), _flow(device_logins, clock)
    device = a.start("floww-cli")
    with pytest.raises(DeviceAuthorizationPending) as pending:
        b.poll(device.device_code)
    assert _code(pending.value) == "authorization_pending"
    b.approve(device.shown_user_code.lower(), ADA)
    clock.advance(5)
    user = a.poll(device.device_code)
    assert (user.id, user.email, user.kind) == (ADA.id, ADA.email, "user")
    with pytest.raises(NotFound):
        b.poll(device.device_code)  # one token set per device code, whichever replica asks


def test_slow_down_is_shared(device_logins: DeviceLoginStore) -> None:
    clock = ManualClock()
    a, b = _flow(device_logins, clock), _flow(device_logins, clock)
    device = a.start("c")
    with pytest.raises(DeviceAuthorizationPending):
        a.poll(device.device_code)
    clock.advance(2)
    with pytest.raises(DeviceAuthorizationPending) as pending:
        b.poll(device.device_code)
    assert _code(pending.value) == "slow_down"
    clock.advance(6)  # 5 + 5 s is the interval now
    with pytest.raises(DeviceAuthorizationPending) as pending:
        a.poll(device.device_code)
    assert _code(pending.value) == "slow_down"


def test_a_decision_is_made_once_across_flows(device_logins: DeviceLoginStore) -> None:
    clock = ManualClock()
    a, b = _flow(device_logins, clock), _flow(device_logins, clock)
    device = a.start("c")
    b.deny(device.user_code)
    with pytest.raises(Conflict):
        a.approve(device.user_code, ADA)
    clock.advance(5)
    with pytest.raises(DeviceAuthorizationPending) as pending:
        a.poll(device.device_code)
    assert _code(pending.value) == "access_denied"


def test_expired_devices_say_so_then_are_forgotten(device_logins: DeviceLoginStore) -> None:
    clock = ManualClock()
    flow = _flow(device_logins, clock, expires_in=60)
    device = flow.start("c")
    clock.advance(61)
    with pytest.raises(DeviceAuthorizationPending) as pending:
        flow.poll(device.device_code)
    assert _code(pending.value) == "expired_token"
    with pytest.raises(NotFound):
        flow.approve(device.user_code, ADA)
    clock.advance(60)
    flow.start("next")  # starting a login forgets those expired a lifetime ago
    with pytest.raises(NotFound):
        flow.poll(device.device_code)
    assert [d.client_id for d in flow.pending()] == ["next"]


def test_unknown_codes_are_not_found(device_logins: DeviceLoginStore) -> None:
    flow = _flow(device_logins, ManualClock())
    with pytest.raises(NotFound):
        flow.poll(secrets.token_urlsafe(32))
    with pytest.raises(NotFound):
        flow.approve("BCDF-GHJK", ADA)
