"""OCI image content as plain bytes, the manifest that names it, and the registry's name rules.

A runtime image is a config blob plus layer blobs (gzip-compressed tarballs). The manifest is
built deterministically, so equal content gives an equal manifest digest everywhere.

Repository names, tags and digests follow the OCI distribution spec's grammar (digests:
sha256 only). ``check_repository``, ``check_tag`` and ``check_digest`` return their argument
unchanged or raise ``InvalidInput`` whose ``field`` detail says which part was malformed
(``name``, ``tag``, ``digest``).
"""

from __future__ import annotations

import hashlib
import json
import re

import attrs

from floww.domain.errors import InvalidInput

__all__ = [
    "BASE_REPOSITORY_PREFIX",
    "CONFIG_MEDIA_TYPE",
    "LAYER_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPE",
    "MAX_REPOSITORY_LENGTH",
    "LayerRef",
    "OciImage",
    "blob_digest",
    "check_digest",
    "check_repository",
    "check_tag",
    "image_repository",
    "is_base_repository",
    "runtime_repository",
    "valid_digest",
]

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
MAX_REPOSITORY_LENGTH = 255

_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def check_repository(name: str) -> str:
    """``name`` if it is a valid repository name (at most 255 characters); ``InvalidInput``
    (``field="name"``) otherwise."""
    if len(name) > MAX_REPOSITORY_LENGTH or not _REPOSITORY.match(name):
        raise InvalidInput(f"invalid repository name {name!r}", field="name")
    return name


def check_tag(tag: str) -> str:
    """``tag`` if it is a valid tag; ``InvalidInput`` (``field="tag"``) otherwise."""
    if not _TAG.match(tag):
        raise InvalidInput(f"invalid tag {tag!r}", field="tag")
    return tag


def check_digest(digest: str) -> str:
    """``digest`` if it is a well-formed sha256 digest; ``InvalidInput``
    (``field="digest"``) otherwise."""
    if not valid_digest(digest):
        raise InvalidInput(f"invalid or unsupported digest {digest!r}", field="digest")
    return digest


def valid_digest(digest: str) -> bool:
    """Whether ``digest`` is a well-formed sha256 digest (``sha256:`` and 64 hex digits)."""
    return _DIGEST.match(digest) is not None


BASE_REPOSITORY_PREFIX = "floww-base/"


def is_base_repository(name: str) -> bool:
    """Whether ``name`` holds the platform's base images (``floww-base/...``): readable by
    every principal of the registry, written by the operator only, never through tokens."""
    return name.startswith(BASE_REPOSITORY_PREFIX) and len(name) > len(BASE_REPOSITORY_PREFIX)


def runtime_repository(namespace_id: str) -> str:
    """The registry repository holding a namespace's runtime images: ``floww/<namespace id>``."""
    return f"floww/{namespace_id.lower()}"


def image_repository(image_ref: str) -> str:
    """The repository of ``repo:tag`` or ``repo@sha256:...``."""
    name = image_ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name


def blob_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@attrs.frozen
class LayerRef:
    """A layer known by its descriptor only: a registry holds its bytes."""

    digest: str
    size: int
    media_type: str = LAYER_MEDIA_TYPE


@attrs.frozen
class OciImage:
    """An image's config and layers. ``base_layers`` come first in the manifest and are known
    by reference only: they live in ``base_repository`` of the registry the image goes to, and
    reach another repository of it by a cross-repository mount, never through this process."""

    config: bytes = attrs.field(repr=False)
    layers: tuple[bytes, ...] = attrs.field(repr=False)
    base_layers: tuple[LayerRef, ...] = ()
    base_repository: str = ""

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
                *(
                    {"mediaType": ref.media_type, "digest": ref.digest, "size": ref.size}
                    for ref in self.base_layers
                ),
                *(
                    {
                        "mediaType": LAYER_MEDIA_TYPE,
                        "digest": blob_digest(layer),
                        "size": len(layer),
                    }
                    for layer in self.layers
                ),
            ],
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @property
    def digest(self) -> str:
        """The manifest digest: what a registry answers for this image's tag."""
        return blob_digest(self.manifest())
