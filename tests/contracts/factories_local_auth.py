"""The local auth adapter (key files, accounts file, signed tokens) in the ``Identity``,
``PlatformTokens``, ``ApiKeys`` and ``Users`` suites."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from floww.adapters.local.identity import LocalAuth
from floww.adapters.local.platform_tokens import LocalPlatformTokens
from floww.adapters.memory import ManualClock
from floww.testing.contracts.harness import AuthHarness
from floww.testing.contracts.users import UsersHarness


def local_auth() -> Iterator[AuthHarness]:
    with tempfile.TemporaryDirectory(prefix="floww-auth-") as home:
        clock = ManualClock()
        auth = LocalAuth(Path(home), clock, verification_uri="http://127.0.0.1:8000/device")
        tokens = LocalPlatformTokens(Path(home), clock)
        yield AuthHarness(auth=auth, clock=clock, make_user=auth.create_user, tokens=tokens)


AUTH_FACTORIES = [pytest.param(local_auth, id="local")]
API_KEYS_FACTORIES = [pytest.param(local_auth, id="local")]


def local_users() -> Iterator[UsersHarness]:
    with tempfile.TemporaryDirectory(prefix="floww-users-") as home:
        auth = LocalAuth(Path(home), ManualClock(), verification_uri="http://127.0.0.1/device")
        yield UsersHarness(users=auth, sign_in=lambda user: auth.start_login(user).access_token)


USERS_FACTORIES = [pytest.param(local_users, id="local")]
