"""RegistryStorage: what the Registry HTTP API v2 edge (``/v2/``) stores images in.

The edge speaks the protocol (routes, status codes, the error body, authorization); a storage
keeps blobs, uploads and manifests per repository. The local OCI store implements it for the
embedded profile; an upstream registry (ECR, any v2 server) can implement it for the cloud.

Repository names and digests reach a storage already checked (``floww.domain.oci``). Errors:

- ``NotFound`` with kind ``blob``, ``manifest``, ``repository`` or ``upload`` for what a
  repository does not hold (a blob is visible only through a repository it belongs to);
- ``InvalidInput`` with ``field`` ``digest`` (content does not match its digest), ``manifest``
  (malformed), ``blob`` (a manifest names a blob the repository lacks), ``tag``;
- ``PayloadTooLarge`` when an upload passes ``UploadSink.limit`` (the upload is discarded);
- ``Conflict`` for a chunk that does not start where the upload ends, or a second writer.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import IO, Protocol

import attrs

__all__ = ["RegistryStorage", "StoredManifest", "UploadSink"]


@attrs.frozen
class StoredManifest:
    digest: str
    media_type: str
    body: bytes = attrs.field(repr=False)


class UploadSink(Protocol):
    """Appends to one upload in progress: ``size`` bytes so far, at most ``limit``."""

    size: int
    limit: int

    def write(self, data: bytes) -> int: ...


class RegistryStorage(Protocol):
    max_manifest_bytes: int

    def blob_size(self, repository: str, digest: str) -> int: ...

    def open_blob(self, repository: str, digest: str) -> IO[bytes]:
        """The blob's content, to read in chunks and close."""
        ...

    def start_upload(self, repository: str) -> str:
        """A new, empty upload; its id."""
        ...

    def upload_size(self, repository: str, upload_id: str) -> int: ...

    def append_to_upload(
        self, repository: str, upload_id: str, *, start: int | None = None
    ) -> AbstractContextManager[UploadSink]:
        """A sink that appends to the upload; ``start`` (when given) must equal its size."""
        ...

    def finish_upload(self, repository: str, upload_id: str, digest: str) -> str:
        """Commit the upload as the blob ``digest`` (checked against the content)."""
        ...

    def cancel_upload(self, repository: str, upload_id: str) -> None: ...

    def put_manifest(
        self, repository: str, reference: str, body: bytes, media_type: str | None
    ) -> str:
        """Store a manifest under a tag or its digest; its digest."""
        ...

    def get_manifest(self, repository: str, reference: str) -> StoredManifest: ...

    def tag_list(self, repository: str) -> list[str]: ...
