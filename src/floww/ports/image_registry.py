"""ImageRegistry: where runtime images live.

- ``exists`` answers without raising for a missing image.
- ``resolve`` and ``pull`` raise ``NotFound`` for an unknown repository or tag.
- ``push`` stores blobs then the manifest under the tag; pushing identical content again is a
  no-op that returns the same digest.
- ``push_credentials`` returns short-lived credentials that allow pushing to ``repository``
  only (``PermissionDenied`` if the namespace may not use it). The servers' registries all
  answer it with ``scoped_push_credentials``: a floww push token for the namespace's own
  runtime repository.
- An unreachable registry raises ``Unavailable``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs

from floww.domain.errors import PermissionDenied
from floww.domain.oci import OciImage, check_repository, runtime_repository

__all__ = [
    "PUSH_CREDENTIALS_TTL_SECONDS",
    "PUSH_USERNAME",
    "BaseImageSource",
    "ImageRegistry",
    "PushTokenIssuer",
    "RegistryCredentials",
    "scoped_push_credentials",
]

PUSH_CREDENTIALS_TTL_SECONDS = 900
PUSH_USERNAME = "floww"

PushTokenIssuer = Callable[[str, str, int], str]
"""``issue(namespace_id, repository, ttl_seconds)``: the password of a push token."""


@attrs.frozen
class RegistryCredentials:
    registry: str
    username: str
    password: str = attrs.field(repr=False)
    expires_in: int


def scoped_push_credentials(
    registry_host: str, issue: PushTokenIssuer, namespace_id: str, repository: str
) -> RegistryCredentials:
    """Credentials for ``registry_host`` that push to ``repository`` for a short while, when it
    is the namespace's own runtime repository (``floww/<namespace id>``); ``InvalidInput`` for
    a malformed name, ``PermissionDenied`` for any other repository."""
    check_repository(repository)
    if repository != runtime_repository(namespace_id):
        raise PermissionDenied(
            f"namespace {namespace_id} may push to {runtime_repository(namespace_id)} only",
            namespace_id=namespace_id,
            repository=repository,
        )
    ttl = PUSH_CREDENTIALS_TTL_SECONDS
    return RegistryCredentials(
        registry=registry_host,
        username=PUSH_USERNAME,
        password=issue(namespace_id, repository, ttl),
        expires_in=ttl,
    )


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
