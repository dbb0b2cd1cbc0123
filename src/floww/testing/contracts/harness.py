"""Helpers shared by the contract suites and their factories."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from floww.adapters.memory import ManualClock
from floww.domain.model import Principal
from floww.ports.auth import Auth

__all__ = ["AuthHarness"]


@attrs.frozen
class AuthHarness:
    """An Auth adapter with the controls its suite needs: a clock the test moves, and a way to
    make a user principal the adapter will accept."""

    auth: Auth
    clock: ManualClock
    make_user: Callable[[str], Principal]
