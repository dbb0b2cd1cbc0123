"""Rate limits at the HTTP edge: device-login starts per client, password sign-ins with
growing delays per account and per client, answered 429 with ``Retry-After``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import attrs
import pytest
from conftest import PASSWORD

from floww.adapters.inprocess.limit_store import ProcessLimitStore
from floww.adapters.memory import ManualClock
from floww.domain.rate_limits import TokenBucket
from floww.entrypoints.http.limits import EdgeGuard

if TYPE_CHECKING:
    from conftest import World

A, B = "203.0.113.7", "198.51.100.9"


def _guard(world: World, clock: ManualClock, header: str = "x-forwarded-for") -> None:
    guard = EdgeGuard(
        ProcessLimitStore(),
        clock,
        device_starts=TokenBucket(capacity=3, period_s=60.0),
        client_ip_header=header,
    )
    app = world.client.app
    app.state.services = attrs.evolve(app.state.services, guard=guard)  # type: ignore[attr-defined]


@pytest.fixture
def clock(world: World) -> ManualClock:
    clock = ManualClock()
    _guard(world, clock)
    return clock


def _start(world: World, client: str) -> int:
    return world.client.post(
        "/api/auth/device", data={"client_id": "cli"}, headers={"x-forwarded-for": client}
    ).status_code


def test_a_flood_of_device_starts_is_refused_per_client(world: World, clock: ManualClock) -> None:
    assert [_start(world, A) for _ in range(3)] == [200, 200, 200]
    refused = world.client.post("/api/auth/device", headers={"x-forwarded-for": f"10.0.0.1, {A}"})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "20"
    assert refused.json()["error"]["type"] == "RateLimited"
    # another client is not locked out by the flood
    assert _start(world, B) == 200
    clock.advance(20)
    assert _start(world, A) == 200
    assert _start(world, A) == 429


def test_the_forwarded_header_counts_only_when_configured(world: World) -> None:
    _guard(world, ManualClock(), header="")
    answers = [_start(world, f"192.0.2.{n}") for n in range(4)]
    assert answers == [200, 200, 200, 429]  # all from the test client's own address


def _sign_in(world: World, email: str, password: str, client: str = A) -> tuple[int, str]:
    page = world.client.get("/device")
    token = re.search(r"name=form_token value='([^']+)'", page.text)
    assert token is not None
    device = world.client.post(
        "/api/auth/device", headers={"x-forwarded-for": "192.0.2.200"}
    ).json()
    answer = world.client.post(
        "/device",
        data={
            "form_token": token.group(1),
            "user_code": device["user_code"],
            "email": email,
            "password": password,
        },
        headers={"x-forwarded-for": client},
    )
    return answer.status_code, answer.headers.get("retry-after", "")


def test_password_failures_grow_the_delay_and_success_resets_it(
    world: World, clock: ManualClock
) -> None:
    _guard_with_roomy_device_starts(world, clock)
    assert [_sign_in(world, "ada@example.com", "nope")[0] for _ in range(5)] == [401] * 5
    assert _sign_in(world, "ada@example.com", "nope") == (401, "")  # sixth: now delayed
    # even the right password waits: the delay is not a verdict on this attempt
    assert _sign_in(world, "ada@example.com", PASSWORD) == (429, "1")
    # the account is delayed from any client; another account from this client is not
    assert _sign_in(world, "ADA@example.com ", PASSWORD, client=B)[0] == 429
    assert _sign_in(world, "bob@example.com", "nope")[0] == 401
    clock.advance(1)
    assert _sign_in(world, "ada@example.com", "nope")[0] == 401
    assert _sign_in(world, "ada@example.com", PASSWORD) == (429, "2")
    clock.advance(2)
    assert _sign_in(world, "ada@example.com", PASSWORD)[0] == 200
    # a success forgets the account's failures
    assert [_sign_in(world, "ada@example.com", "nope")[0] for _ in range(5)] == [401] * 5


def test_a_client_guessing_across_accounts_is_delayed(world: World, clock: ManualClock) -> None:
    _guard_with_roomy_device_starts(world, clock)
    for n in range(20):
        assert _sign_in(world, f"user{n}@example.com", "guess")[0] == 401
    assert _sign_in(world, "user20@example.com", "guess")[0] == 401  # 21st: delayed from now
    assert _sign_in(world, "ada@example.com", PASSWORD) == (429, "1")
    assert _sign_in(world, "ada@example.com", PASSWORD, client=B)[0] == 200


def _guard_with_roomy_device_starts(world: World, clock: ManualClock) -> None:
    guard = EdgeGuard(
        ProcessLimitStore(), clock, TokenBucket(1000, 60.0), client_ip_header="x-forwarded-for"
    )
    app = world.client.app
    app.state.services = attrs.evolve(app.state.services, guard=guard)  # type: ignore[attr-defined]


def test_guessing_the_current_password_is_slowed_down(world: World, clock: ManualClock) -> None:
    """A stolen access token does not give unlimited guesses at the password behind it."""
    app = world.client.app
    services = app.state.services  # type: ignore[attr-defined]
    app.state.services = attrs.evolve(  # type: ignore[attr-defined]
        services, deps=attrs.evolve(services.deps, users=world.auth)
    )
    world.auth.add_user("gus@example.com", PASSWORD)
    token = world.auth.issue_token(world.auth.create_user("gus@example.com"))
    headers = {"Authorization": f"Bearer {token}", "x-forwarded-for": A}

    def change(current: str) -> int:
        body = {"current_password": current, "new_password": "a brand new password"}
        return world.client.put("/api/account/password", json=body, headers=headers).status_code

    answers = [change(f"guess {n}") for n in range(10)]
    assert 429 in answers and answers[: answers.index(429)] == [401] * answers.index(429)
    assert change(PASSWORD) == 429  # even the right one waits its turn
    clock.advance(3600)
    assert change(PASSWORD) == 204
