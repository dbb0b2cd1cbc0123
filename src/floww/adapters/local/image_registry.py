"""The embedded image registry: an OCI store on disk, served to clients at ``/v2/``.

``LocalImageRegistry`` is the ``ImageRegistry`` port over ``OciStore`` (see that module for the
layout and the concurrency rules) and, being a store itself, also what the Registry HTTP API
endpoint serves.

- ``exists`` never raises for a missing repository or tag (it does for a malformed name).
- ``resolve`` and ``pull`` raise ``NotFound`` for an unknown repository, tag or digest and
  ``InvalidInput`` for a malformed one; ``pull`` re-hashes every blob it returns.
- ``push`` stores the config and layers as blobs of the repository (content already stored is
  not written again, only recorded as the repository's too), then the manifest under the tag;
  identical content gives the same digest and changes nothing.
- ``pull`` returns only blobs that belong to the repository (``NotFound`` otherwise), however
  many repositories share the stored copy.
- ``push_credentials``: a namespace may push to its own repository ``floww/<namespace_id>``
  only (``PermissionDenied`` otherwise). The password is a token from ``issue_push_token``
  (``Unavailable`` when no token issuer is configured); the registry checks it when a client
  presents it, through the authorizer given to the HTTP endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

from floww.adapters.local.oci_store import (
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_UPLOAD_MAX_AGE_SECONDS,
    OciStore,
    is_digest,
)
from floww.domain.errors import InvalidInput, NotFound, Unavailable
from floww.domain.oci import OciImage, check_repository, check_tag
from floww.ports.image_registry import (
    ImageRegistry,
    PushTokenIssuer,
    RegistryCredentials,
    scoped_push_credentials,
)

__all__ = ["LocalImageRegistry"]


class LocalImageRegistry(OciStore, ImageRegistry):
    """``registry_host`` is what clients put in image references (``host:port``);
    ``issue_push_token(namespace_id, repository, ttl_seconds)`` makes the push password;
    ``max_upload_bytes`` and ``upload_max_age_seconds`` are the store's upload limits."""

    def __init__(
        self,
        root: Path,
        *,
        registry_host: str,
        issue_push_token: PushTokenIssuer | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        upload_max_age_seconds: float = DEFAULT_UPLOAD_MAX_AGE_SECONDS,
    ) -> None:
        super().__init__(
            root, max_upload_bytes=max_upload_bytes, upload_max_age_seconds=upload_max_age_seconds
        )
        self.registry_host = registry_host
        self._issue_push_token = issue_push_token

    def exists(self, repository: str, tag: str) -> bool:
        check_repository(repository)
        check_tag(tag)
        try:
            self.manifest_digest(repository, tag)
        except NotFound:
            return False
        return True

    def resolve(self, repository: str, tag: str) -> str:
        check_tag(tag)
        return self.manifest_digest(repository, tag)

    def push(self, repository: str, tag: str, image: OciImage) -> str:
        check_repository(repository)
        check_tag(tag)
        for blob in (image.config, *image.layers):
            self.put_blob(blob, repository=repository)
        return self.put_manifest(repository, tag, image.manifest())

    def pull(self, repository: str, reference: str) -> OciImage:
        manifest = self.get_manifest(repository, reference)
        try:
            doc = json.loads(manifest.body)
            config_digest = str(doc["config"]["digest"])
            layer_digests = [str(layer["digest"]) for layer in doc["layers"]]
        except (ValueError, KeyError, TypeError) as exc:
            kind = "digest" if is_digest(reference) else "tag"
            raise InvalidInput(
                f"{repository} {kind} {reference} is not a single image manifest",
                field="manifest",
            ) from exc
        return OciImage(
            config=self.read_blob(repository, config_digest),
            layers=tuple(self.read_blob(repository, digest) for digest in layer_digests),
        )

    def push_credentials(self, namespace_id: str, repository: str) -> RegistryCredentials:
        return scoped_push_credentials(self.registry_host, self._issue, namespace_id, repository)

    def _issue(self, namespace_id: str, repository: str, ttl_seconds: int) -> str:
        if self._issue_push_token is None:
            raise Unavailable("this registry has no push token issuer configured")
        return self._issue_push_token(namespace_id, repository, ttl_seconds)
