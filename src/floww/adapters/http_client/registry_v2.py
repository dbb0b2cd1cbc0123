"""``ImageRegistry`` over the Registry HTTP API v2 (OCI distribution spec), for any compliant
registry: floww's own ``/v2/``, Docker's ``registry``, a cloud registry behind a proxy.

- ``exists`` and ``resolve`` ask with ``HEAD`` on the manifest; ``exists`` answers False for a
  missing repository or tag.
- ``push`` asks for each blob with ``HEAD`` and uploads only the missing ones (``POST`` then
  ``PUT ?digest=``; ``PATCH`` chunks first when a blob is over ``chunk_size``), then puts the
  manifest unless the tag already points at it. ``uploaded_blobs`` and ``uploaded_manifests``
  count what actually went over the wire.
- ``push`` first mounts an image's ``base_layers`` that the repository lacks from the image's
  ``base_repository`` (``POST ?mount=&from=``); a registry that will not mount them refuses
  the push (``InvalidInput``): base layers never pass through this client.
- ``pull`` fetches the manifest and blobs and checks every digest; ``describe`` fetches the
  manifest and config only, naming the layers by reference.
- ``push_credentials`` come from the floww server, not from the registry: it delegates to the
  injected ``issue_credentials`` or raises ``PermissionDenied``.

Requests carry Basic credentials from ``credentials(repository)`` when it returns some. Errors:
401 -> ``Unauthenticated``; 403 -> ``PermissionDenied``; 404 or an ``*_UNKNOWN`` code ->
``NotFound``; other 4xx -> ``InvalidInput``; 429, 5xx and connection failures ->
``Unavailable`` naming the URL. Content whose digest does not match -> ``InvalidInput``.
Malformed repository names, tags and digests are rejected before any request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from floww.domain.errors import (
    FlowwError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from floww.domain.oci import (
    LAYER_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    LayerRef,
    OciImage,
    blob_digest,
    check_digest,
    check_repository,
    check_tag,
    valid_digest,
)
from floww.ports.image_registry import ImageRegistry, RegistryCredentials

__all__ = ["DEFAULT_CHUNK_SIZE", "RegistryV2Client"]

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
_ACCEPT = ", ".join(
    (
        MANIFEST_MEDIA_TYPE,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
_UNKNOWN_KINDS = {"BLOB_UNKNOWN": "blob", "NAME_UNKNOWN": "repository"}


class RegistryV2Client(ImageRegistry):
    def __init__(
        self,
        base_url: str,
        *,
        http: httpx.Client,
        credentials: Callable[[str], tuple[str, str] | None] = lambda repo: None,
        issue_credentials: Callable[[str, str], RegistryCredentials] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._http = http
        self._credentials = credentials
        self._issue_credentials = issue_credentials
        self.chunk_size = chunk_size
        self.uploaded_blobs = 0
        self.uploaded_manifests = 0
        self.mounted_blobs = 0

    # the port ---------------------------------------------------------------------------------

    def exists(self, repository: str, tag: str) -> bool:
        _check(repository, tag)
        return self._tag_digest(repository, tag) is not None

    def resolve(self, repository: str, tag: str) -> str:
        _check(repository, tag)
        digest = self._tag_digest(repository, tag)
        if digest is None:
            raise NotFound("manifest", f"{repository}:{tag}")
        return digest

    def push(self, repository: str, tag: str, image: OciImage) -> str:
        _check(repository, tag)
        for ref in image.base_layers:
            if not self._blob_exists(repository, ref.digest):
                self._mount_blob(repository, ref.digest, image.base_repository)
                self.mounted_blobs += 1
        blobs = {blob_digest(blob): blob for blob in (image.config, *image.layers)}
        for digest, blob in blobs.items():
            if not self._blob_exists(repository, digest):
                self._upload_blob(repository, digest, blob)
                self.uploaded_blobs += 1
        manifest, digest = image.manifest(), image.digest
        if self._tag_digest(repository, tag) == digest:
            return digest
        response = self._send(
            repository,
            "PUT",
            self._url(repository, "manifests", tag),
            content=manifest,
            headers={"Content-Type": MANIFEST_MEDIA_TYPE},
        )
        self._raise_for(response, "manifest", f"{repository}:{tag}")
        self.uploaded_manifests += 1
        _check_answered_digest(response, digest)
        return digest

    def pull(self, repository: str, reference: str) -> OciImage:
        _check_reference(repository, reference)
        body, _ = self._get_manifest(repository, reference)
        try:
            doc = json.loads(body)
            config_digest = str(doc["config"]["digest"])
            layer_digests = [str(layer["digest"]) for layer in doc["layers"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                f"{repository} {reference} is not a single image manifest", field="manifest"
            ) from exc
        return OciImage(
            config=self._get_blob(repository, config_digest),
            layers=tuple(self._get_blob(repository, d) for d in layer_digests),
        )

    def describe(self, repository: str, reference: str) -> OciImage:
        """The image by reference: its config, and its layers as ``base_layers`` descriptors
        in ``repository`` (no layer is fetched): a base to build on and mount from."""
        _check_reference(repository, reference)
        body, _ = self._get_manifest(repository, reference)
        try:
            doc = json.loads(body)
            config_digest = str(doc["config"]["digest"])
            refs = tuple(
                LayerRef(
                    str(layer["digest"]),
                    int(layer["size"]),
                    str(layer.get("mediaType") or LAYER_MEDIA_TYPE),
                )
                for layer in doc["layers"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                f"{repository} {reference} is not a single image manifest", field="manifest"
            ) from exc
        for ref in refs:
            check_digest(ref.digest)
        return OciImage(
            config=self._get_blob(repository, config_digest),
            layers=(),
            base_layers=refs,
            base_repository=repository,
        )

    def push_credentials(self, namespace_id: str, repository: str) -> RegistryCredentials:
        if self._issue_credentials is None:
            raise PermissionDenied(
                "push credentials come from the floww server, not from the registry",
                namespace_id=namespace_id,
                repository=repository,
            )
        return self._issue_credentials(namespace_id, repository)

    # blobs and manifests ----------------------------------------------------------------------

    def _tag_digest(self, repository: str, tag: str) -> str | None:
        """The digest the tag points at; None for an unknown repository or tag."""
        response = self._send(repository, "HEAD", self._url(repository, "manifests", tag))
        if response.status_code == 404:
            return None
        self._raise_for(response, "manifest", f"{repository}:{tag}")
        digest = str(response.headers.get("docker-content-digest", ""))
        if valid_digest(digest):
            return digest
        return self._get_manifest(repository, tag)[1]

    def _blob_exists(self, repository: str, digest: str) -> bool:
        response = self._send(repository, "HEAD", self._url(repository, "blobs", digest))
        if response.status_code == 404:
            return False
        self._raise_for(response, "blob", digest)
        return True

    def _mount_blob(self, repository: str, digest: str, source: str) -> None:
        """Mount ``digest`` from ``source`` into ``repository``; a registry that starts an
        upload instead (202) gets it cancelled, and ``InvalidInput`` says the base cannot come
        through this machine."""
        check_repository(source)
        url = self._url(repository, "blobs", "uploads/").copy_merge_params(
            {"mount": digest, "from": source}
        )
        response = self._send(repository, "POST", url)
        self._raise_for(response, "blob", digest)
        if response.status_code == 201:
            return
        if response.status_code == 202 and response.headers.get("location"):
            self._send(repository, "DELETE", self._location(response))
        raise InvalidInput(
            f"the registry did not mount base layer {digest} from {source} into {repository}; "
            "base images reach a namespace's repository by mount, never through the client: "
            "check that the server's base image exists in its registry",
            field="base_image",
        )

    def _upload_blob(self, repository: str, digest: str, blob: bytes) -> None:
        start = self._send(repository, "POST", self._url(repository, "blobs", "uploads/"))
        self._raise_for(start, "repository", repository)
        location = self._location(start)
        if len(blob) > self.chunk_size:
            for offset in range(0, len(blob), self.chunk_size):
                chunk = blob[offset : offset + self.chunk_size]
                response = self._send(
                    repository,
                    "PATCH",
                    location,
                    content=chunk,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                    },
                )
                self._raise_for(response, "upload", digest)
                location = self._location(response)
            blob = b""
        response = self._send(
            repository,
            "PUT",
            location.copy_merge_params({"digest": digest}),
            content=blob,
            headers={"Content-Type": "application/octet-stream"},
        )
        self._raise_for(response, "upload", digest)
        _check_answered_digest(response, digest)

    def _get_manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        key = f"{repository}@{reference}" if ":" in reference else f"{repository}:{reference}"
        response = self._send(repository, "GET", self._url(repository, "manifests", reference))
        self._raise_for(response, "manifest", key)
        body = response.content
        digest = blob_digest(body)
        expected = reference if ":" in reference else response.headers.get("docker-content-digest")
        if expected and expected != digest:
            raise InvalidInput(
                f"registry sent manifest {key} hashing to {digest}, not {expected}", field="digest"
            )
        return body, digest

    def _get_blob(self, repository: str, digest: str) -> bytes:
        if not valid_digest(digest):
            raise InvalidInput(f"manifest names an invalid digest {digest!r}", field="digest")
        response = self._send(repository, "GET", self._url(repository, "blobs", digest))
        self._raise_for(response, "blob", digest)
        if blob_digest(response.content) != digest:
            raise InvalidInput(f"registry sent blob {digest} with other content", field="digest")
        return response.content

    # HTTP -------------------------------------------------------------------------------------

    def _url(self, repository: str, kind: str, reference: str) -> httpx.URL:
        return httpx.URL(f"{self._base}/v2/{repository}/{kind}/{reference}")

    def _location(self, response: httpx.Response) -> httpx.URL:
        location = response.headers.get("location")
        if not location:
            raise Unavailable(f"registry {response.request.url} answered without a Location")
        return httpx.URL(self._base).join(location)

    def _send(self, repository: str, method: str, url: httpx.URL, **kwargs: Any) -> httpx.Response:
        found = self._credentials(repository)
        headers = {"Accept": _ACCEPT, **kwargs.pop("headers", {})}
        try:
            return self._http.request(
                method,
                url,
                headers=headers,
                auth=httpx.BasicAuth(*found) if found else None,
                follow_redirects=True,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            where = url.copy_with(query=None)
            raise Unavailable(
                f"registry {where} unreachable: {type(exc).__name__}", url=str(where)
            ) from exc

    def _raise_for(self, response: httpx.Response, kind: str, key: str) -> None:
        status = response.status_code
        if status < 400:
            return
        code, message = _first_error(response)
        where = f"{response.request.method} {response.request.url.copy_with(query=None)}"
        detail = f"registry answered {status} {code or ''} to {where}: {message}".strip()
        error: FlowwError
        if status == 401:
            error = Unauthenticated(detail)
        elif status == 403:
            error = PermissionDenied(detail)
        elif status == 404 or code.endswith("_UNKNOWN"):
            error = NotFound(_UNKNOWN_KINDS.get(code, kind), key)
        elif status == 429 or status >= 500:
            error = Unavailable(detail, url=str(response.request.url.copy_with(query=None)))
        else:
            error = InvalidInput(detail, code=code)
        raise error


def _first_error(response: httpx.Response) -> tuple[str, str]:
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return str(first.get("code", "")), str(first.get("message", ""))
    except (ValueError, AttributeError, IndexError, TypeError):
        return "", response.reason_phrase


def _check_answered_digest(response: httpx.Response, expected: str) -> None:
    answered = response.headers.get("docker-content-digest")
    if answered and answered != expected:
        raise InvalidInput(f"registry stored {answered}, expected {expected}", field="digest")


def _check(repository: str, tag: str) -> None:
    check_repository(repository)
    check_tag(tag)


def _check_reference(repository: str, reference: str) -> None:
    check_repository(repository)
    if ":" in reference:
        check_digest(reference)
    else:
        check_tag(reference)
