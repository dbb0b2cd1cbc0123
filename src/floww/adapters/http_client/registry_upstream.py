"""Any Registry v2 server with Basic credentials as the upstream of floww's registry proxy.

- ``BasicUpstream`` is the ``RegistryUpstream`` the proxy forwards to: the same repository
  names upstream as in floww (``floww/<namespace id>``), the server's user and password on
  every request; nothing to prepare before a push (a v2 server creates repositories itself).
- ``proxied_registry`` is the server's own ``ImageRegistry`` in proxy mode: it reads and
  writes the upstream directly with the same credentials (the function host pulls from it) and
  hands clients short-lived floww push tokens for the proxy (``scoped_push_credentials``), never
  the upstream's credentials.
"""

from __future__ import annotations

import base64
import functools

import httpx

from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.domain.oci import check_repository
from floww.ports.image_registry import ImageRegistry, PushTokenIssuer, scoped_push_credentials
from floww.ports.registry_upstream import RegistryUpstream

__all__ = ["BasicUpstream", "proxied_registry"]


class BasicUpstream(RegistryUpstream):
    """``username`` and ``password`` are the server's credentials at the upstream; empty ones
    mean an upstream that needs none."""

    def __init__(self, base_url: str, *, username: str = "", password: str = "") -> None:
        self._base_url = base_url.rstrip("/")
        self._header = None
        if username or password:
            pair = f"{username}:{password}".encode()
            self._header = "Basic " + base64.b64encode(pair).decode("ascii")

    def __repr__(self) -> str:
        return f"BasicUpstream({self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    def repository(self, name: str) -> str:
        return check_repository(name)

    def authorization(self) -> str | None:
        return self._header

    def prepare(self, name: str) -> None:
        check_repository(name)


def proxied_registry(
    upstream_url: str,
    *,
    username: str,
    password: str,
    registry_host: str,
    issue_push_token: PushTokenIssuer,
    http: httpx.Client,
) -> ImageRegistry:
    """The server-side ``ImageRegistry`` over the upstream, issuing proxy push tokens."""
    pair = (username, password) if username or password else None
    return RegistryV2Client(
        upstream_url,
        http=http,
        credentials=lambda repository: pair,
        issue_credentials=functools.partial(
            scoped_push_credentials, registry_host, issue_push_token
        ),
    )
