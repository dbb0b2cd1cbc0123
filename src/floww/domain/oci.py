"""OCI image content as plain bytes, and the manifest that names it.

A runtime image is a config blob plus layer blobs (gzip-compressed tarballs). The manifest is
built deterministically, so equal content gives an equal manifest digest everywhere.
"""

from __future__ import annotations

import hashlib
import json

import attrs

__all__ = [
    "CONFIG_MEDIA_TYPE",
    "LAYER_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPE",
    "OciImage",
    "blob_digest",
]

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def blob_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@attrs.frozen
class OciImage:
    config: bytes = attrs.field(repr=False)
    layers: tuple[bytes, ...] = attrs.field(repr=False)

    def manifest(self) -> bytes:
        doc = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": blob_digest(self.config),
                "size": len(self.config),
            },
            "layers": [
                {"mediaType": LAYER_MEDIA_TYPE, "digest": blob_digest(layer), "size": len(layer)}
                for layer in self.layers
            ],
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @property
    def digest(self) -> str:
        """The manifest digest: what a registry answers for this image's tag."""
        return blob_digest(self.manifest())
