"""The rate limits of the HTTP edge: who the caller is (its address), and the guard the
unauthenticated routes consult before they act (device-login starts, password sign-ins).

The caller's address is the TCP peer's. Behind a reverse proxy every caller would share the
proxy's address, so ``client_ip_header`` (e.g. ``X-Forwarded-For``) names a header the proxy
sets; its last entry, the one the proxy itself appended, is used. The header is ignored
unless configured: a client could write anything into it.
"""

from __future__ import annotations

import attrs
from starlette.requests import Request

from floww.domain.rate_limits import TokenBucket
from floww.domain.usecases import limits
from floww.domain.usecases.limits import LoginLimits
from floww.ports.limit_store import LimitStore
from floww.ports.support import Clock

__all__ = ["EdgeGuard", "client_address"]


def client_address(request: Request, client_ip_header: str = "") -> str:
    if client_ip_header:
        forwarded = request.headers.get(client_ip_header, "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.client.host if request.client else "unknown"


DEVICE_STARTS = TokenBucket(capacity=10, period_s=60.0)
LOGIN_LIMITS = LoginLimits()


@attrs.frozen
class EdgeGuard:
    store: LimitStore
    clock: Clock
    device_starts: TokenBucket = DEVICE_STARTS
    login: LoginLimits = LOGIN_LIMITS
    client_ip_header: str = ""

    def client(self, request: Request) -> str:
        return client_address(request, self.client_ip_header)

    def admit_device_start(self, request: Request) -> None:
        limits.admit_device_start(
            self.store,
            self.device_starts,
            client=self.client(request),
            now=self.clock.monotonic(),
        )

    def admit_login(self, request: Request, account: str) -> None:
        limits.admit_login(
            self.store,
            self.login,
            account=account,
            client=self.client(request),
            now=self.clock.monotonic(),
        )

    def login_succeeded(self, request: Request, account: str) -> None:
        limits.login_succeeded(self.store, account=account, client=self.client(request))
