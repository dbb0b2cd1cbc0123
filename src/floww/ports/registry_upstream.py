"""RegistryUpstream: the registry that the Registry v2 proxy (``/v2/`` in proxy mode) forwards to.

The proxy speaks the protocol to clients and checks their floww tokens; an upstream says where
requests go and with which credentials:

- ``base_url``: the upstream's address (``https://<account>.dkr.ecr.<region>.amazonaws.com``,
  ``http://127.0.0.1:5000``), without ``/v2``.
- ``repository(name)``: the upstream repository that floww's repository ``name``
  (``floww/<namespace id>``) is stored in; a one-to-one mapping, so a client that may use
  ``name`` reaches that upstream repository and no other.
- ``authorization()``: the ``Authorization`` header value for the upstream (``Basic ...``), or
  None for an upstream that needs none. Cached credentials are renewed before they expire.
- ``prepare(name)``: make the upstream ready to receive a push to ``name`` (ECR creates the
  repository on first use); idempotent.

Errors: ``Unavailable`` when the upstream's credentials or control plane cannot be reached or
refuse the server; ``PermissionDenied`` when the server's own upstream identity may not do it.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["RegistryUpstream"]


class RegistryUpstream(Protocol):
    @property
    def base_url(self) -> str: ...

    def repository(self, name: str) -> str:
        """The upstream repository floww's repository ``name`` lives in."""
        ...

    def authorization(self) -> str | None:
        """The ``Authorization`` header to send upstream, or None."""
        ...

    def prepare(self, name: str) -> None:
        """Ready the upstream for a push to ``name`` (idempotent)."""
        ...
