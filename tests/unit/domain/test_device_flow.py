"""DeviceFlow with a fixed clock and code generators: the rules both Auth adapters share."""

from __future__ import annotations

import pytest

from floww.adapters.memory import ManualClock
from floww.domain.device_flow import DeviceFlow, normalize_user_code
from floww.domain.errors import (
    Conflict,
    DeviceAuthorizationPending,
    InvalidInput,
    NotFound,
    Unavailable,
)
from floww.domain.model import Principal

ADA = Principal(id="user_ada", kind="user", email="ada@example.com")


def flow(clock: ManualClock, user_codes: list[str], **kwargs: int) -> DeviceFlow:
    user_code = iter(user_codes)
    device_code = (f"device-{n}" for n in range(100))
    return DeviceFlow(
        clock.now,
        expires_in=kwargs.pop("expires_in", 600),
        interval=kwargs.pop("interval", 5),
        new_device_code=lambda: next(device_code),
        new_user_code=lambda: next(user_code),
        **kwargs,
    )


def test_user_codes_are_shown_with_a_dash_and_found_in_any_spelling() -> None:
    clock = ManualClock()
    devices = flow(clock, ["BCDFGHJK"])
    device = devices.start("floww-cli")
    assert (device.device_code, device.shown_user_code) == ("device-0", "BCDF-GHJK")
    devices.approve("bcdf ghjk", ADA)
    clock.advance(5)
    assert devices.poll("device-0") == ADA
    with pytest.raises(NotFound):
        devices.poll("device-0")  # one answer per device code


def test_a_taken_user_code_is_drawn_again() -> None:
    devices = flow(ManualClock(), ["BCDFGHJK", "BCDF-GHJK", "ZZZZXXXX"])
    first, second = devices.start("a"), devices.start("b")
    assert (first.user_code, second.user_code) == ("BCDFGHJK", "ZZZZXXXX")


def test_no_free_user_code_is_unavailable_not_a_hang() -> None:
    devices = flow(ManualClock(), ["BCDFGHJK"] * 101)
    devices.start("a")
    with pytest.raises(Unavailable):
        devices.start("b")


def test_slow_down_grows_the_interval() -> None:
    clock = ManualClock()
    devices = flow(clock, ["BCDFGHJK"], interval=5)
    device = devices.start("a")
    with pytest.raises(DeviceAuthorizationPending) as pending:
        devices.poll(device.device_code)
    assert pending.value.code == "authorization_pending"
    clock.advance(4)
    with pytest.raises(DeviceAuthorizationPending) as pending:
        devices.poll(device.device_code)
    assert pending.value.code == "slow_down"
    assert devices.pending()[0].interval == 10


def test_decisions_are_made_once() -> None:
    devices = flow(ManualClock(), ["BCDFGHJK"])
    devices.start("a")
    devices.deny("BCDF-GHJK")
    with pytest.raises(Conflict):
        devices.approve("BCDF-GHJK", ADA)


def test_the_pending_limit_counts_only_devices_not_yet_forgotten() -> None:
    clock = ManualClock()
    devices = flow(clock, ["BCDFGHJK", "CDFGHJKL", "DFGHJKLM"], expires_in=60, max_pending=2)
    devices.start("a")
    devices.start("b")
    with pytest.raises(Unavailable):
        devices.start("c")
    clock.advance(61)
    with pytest.raises(Unavailable):
        devices.start("c")  # expired, but its poller still hears expired_token
    with pytest.raises(DeviceAuthorizationPending) as pending:
        devices.poll("device-0")
    assert pending.value.code == "expired_token"
    clock.advance(60)
    assert devices.start("c").user_code == "DFGHJKLM"
    assert [d.client_id for d in devices.pending()] == ["c"]


def test_lifetimes_must_be_positive() -> None:
    with pytest.raises(InvalidInput):
        DeviceFlow(ManualClock().now, expires_in=0, interval=5)


def test_normalize_user_code() -> None:
    assert normalize_user_code(" bcdf-ghjk ") == "BCDFGHJK"
