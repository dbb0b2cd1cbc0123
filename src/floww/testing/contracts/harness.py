"""Helpers shared by the contract suites and their factories."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from floww.adapters.memory import ManualClock
from floww.domain.model import Principal
from floww.ports.identity import Identity
from floww.ports.tokens import PlatformTokens

__all__ = ["AuthHarness"]


@attrs.frozen
class AuthHarness:
    """An ``Identity`` adapter with the controls its suite needs (a clock the test moves, a way
    to make a user principal the adapter will accept) and the ``PlatformTokens`` adapter of the
    same profile."""

    auth: Identity
    clock: ManualClock
    make_user: Callable[[str], Principal]
    tokens: PlatformTokens
