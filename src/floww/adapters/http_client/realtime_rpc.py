"""RPCs over a realtime connection the client holds (the Centrifugo client protocol's ``rpc``):
what ``HttpPlatform`` needs from a subscription to answer dev events over it.

``RpcNotSent`` says the call did not leave or was not taken (the connection is closed or down
right now; the server offers no RPC: Centrifugo's 104 and 108; the connection's token no longer
stands: 101), so the caller may send the same request another way; ``offered`` is false when
the server will never take it on this connection. It is a signal between the subscription and
``HttpPlatform``, not a domain error: it never leaves this package.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["RpcCaller", "RpcNotSent"]


class RpcNotSent(Exception):
    def __init__(self, message: str, *, offered: bool = True) -> None:
        super().__init__(message)
        self.offered = offered


@runtime_checkable
class RpcCaller(Protocol):
    def call(self, method: str, data: Any, timeout: float = 10.0) -> Any:
        """The answer's data. ``RpcNotSent`` as above; a refusal as the domain error of its
        code (400 ``InvalidInput``, 401 ``Unauthenticated``, 403 ``PermissionDenied``, 404
        ``NotFound``, 409 ``Conflict``, anything else ``Unavailable``); ``Unavailable`` when
        no answer came within ``timeout`` seconds."""
