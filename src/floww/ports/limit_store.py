"""LimitStore: where the states of rate limits live (``floww.domain.rate_limits``), keyed by a
string such as ``device-start:client:203.0.113.9``.

- ``update`` atomically replaces the state under ``key`` by the first item of what
  ``change(current)`` returns (``None`` removes the key) and returns the second item; two
  updates of one key never interleave.
- A store may forget keys it has not updated for a while (to stay bounded under a flood of
  distinct keys): a forgotten key reads as ``None``, a fresh start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

__all__ = ["LimitStore"]

T = TypeVar("T")


class LimitStore(Protocol):
    def update(self, key: str, change: Callable[[Any | None], tuple[Any | None, T]]) -> T: ...
