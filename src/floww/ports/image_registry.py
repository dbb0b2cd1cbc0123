"""ImageRegistry: where runtime images live.

- ``exists`` answers without raising for a missing image.
- ``resolve`` and ``pull`` raise ``NotFound`` for an unknown repository or tag.
- ``push`` stores blobs then the manifest under the tag; pushing identical content again is a
  no-op that returns the same digest.
- ``push_credentials`` returns short-lived credentials that allow pushing to ``repository``
  only (``PermissionDenied`` if the namespace may not use it).
- An unreachable registry raises ``Unavailable``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from floww.domain.oci import OciImage

__all__ = ["BaseImageSource", "ImageRegistry", "RegistryCredentials"]


@attrs.frozen
class RegistryCredentials:
    registry: str
    username: str
    password: str = attrs.field(repr=False)
    expires_in: int


class ImageRegistry(Protocol):
    def exists(self, repository: str, tag: str) -> bool: ...

    def resolve(self, repository: str, tag: str) -> str:
        """The manifest digest the tag points at."""

    def push(self, repository: str, tag: str, image: OciImage) -> str:
        """Upload what is missing and tag it; return the manifest digest."""

    def pull(self, repository: str, reference: str) -> OciImage:
        """Fetch an image by tag or digest."""

    def push_credentials(self, namespace_id: str, repository: str) -> RegistryCredentials: ...


@runtime_checkable
class BaseImageSource(Protocol):
    """A registry that can name an image's layers without fetching them (a build's base)."""

    def describe(self, repository: str, reference: str) -> OciImage:
        """The image's config, and its layers as ``base_layers`` of ``repository``."""
        ...
