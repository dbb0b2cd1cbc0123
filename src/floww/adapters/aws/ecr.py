"""Amazon ECR as floww's image registry (boto3), and as the upstream of the registry proxy.

``EcrImageRegistry`` implements two ports:

- ``ImageRegistry``: one ECR repository per namespace, ``<prefix>/<namespace id>`` for floww's
  ``floww/<namespace id>``, created on first push with tag immutability on (floww's tags are
  content hashes, so a tag never has to move) and scan-on-push as configured. ``exists`` and
  ``resolve`` ask ``DescribeImages``; ``push`` uploads only the blobs ECR lacks
  (``BatchCheckLayerAvailability``, then the layer upload API) and puts the manifest (pushing
  identical content again is a no-op that returns the same digest; a tag already on other
  content is a ``Conflict``); ``pull`` reads the manifest with ``BatchGetImage`` and each blob
  from ``GetDownloadUrlForLayer``'s URL, checking every digest. ``push_credentials`` gives a
  namespace a short-lived floww token for its own repository at the proxy (``registry_host``),
  never AWS credentials; another namespace's repository is ``PermissionDenied``.
- ``RegistryUpstream``: the proxy forwards to ECR's Registry v2 endpoint (``upstream_url``, or
  the ``proxyEndpoint`` ECR names) with ``Basic <GetAuthorizationToken>``; the token is cached
  until ``refresh_margin_s`` before it expires. ``prepare`` creates the namespace's repository.

AWS errors never leave the adapter: missing repositories and images are ``NotFound``, an
access denial ``PermissionDenied`` (naming the call, so the IAM policy can be fixed), bad
parameters ``InvalidInput``, throttling, service errors and unreachable endpoints
``Unavailable``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import datetime, timedelta
from typing import Any

import httpx

from floww.domain.errors import (
    Conflict,
    FlowwError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from floww.domain.oci import (
    MANIFEST_MEDIA_TYPE,
    OciImage,
    blob_digest,
    check_repository,
    check_tag,
    valid_digest,
)
from floww.ports.image_registry import (
    ImageRegistry,
    PushTokenIssuer,
    RegistryCredentials,
    scoped_push_credentials,
)
from floww.ports.registry_upstream import RegistryUpstream
from floww.ports.support import Clock

__all__ = ["EcrImageRegistry", "ecr_client", "ecr_repository"]

_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_NOT_FOUND = {
    "RepositoryNotFoundException": "repository",
    "ImageNotFoundException": "manifest",
    "LayersNotFoundException": "blob",
    "LayerInaccessibleException": "blob",
    "UploadNotFoundException": "upload",
}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"}
_INVALID = {"InvalidParameterException", "ValidationException", "InvalidLayerPartException"}
_RETRY_LATER = {"LimitExceededException", "TooManyRequestsException", "ServerException"}


def ecr_repository(prefix: str, name: str) -> str:
    """ECR's repository for floww's image repository ``name``: ``<prefix>/<namespace id>`` for
    ``floww/<namespace id>``, any other name (a shared base, ``floww-base/...``) unchanged."""
    owner, _, rest = check_repository(name).partition("/")
    return f"{prefix.strip('/')}/{rest}" if owner == "floww" and rest else name


def ecr_client(region: str, *, endpoint_url: str = "") -> Any:
    """A boto3 ECR client for ``region`` (credentials from boto3's usual chain: environment,
    profile, instance or task role; ``InvalidInput`` naming what to set when there are none);
    ``endpoint_url`` replaces AWS's endpoint (a VPC endpoint, a stand-in)."""
    import boto3  # here, so that the CLI's start does not load boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise InvalidInput(
            "ECR needs AWS credentials and none were found: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run the server with an IAM role",
            field="registry",
        )
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10)
    try:
        return session.client("ecr", endpoint_url=endpoint_url or None, config=config)
    except (BotoCoreError, ValueError) as exc:
        raise InvalidInput(
            f"cannot reach ECR with FLOWW_ECR_REGION={region!r} and "
            f"FLOWW_ECR_ENDPOINT_URL={endpoint_url!r}: {exc}",
            field="registry",
        ) from None


class EcrImageRegistry(ImageRegistry, RegistryUpstream):
    """``client`` is a boto3 ECR client; ``http`` downloads layers from the URLs ECR gives."""

    def __init__(
        self,
        client: Any,
        *,
        clock: Clock,
        registry_host: str,
        issue_push_token: PushTokenIssuer,
        http: httpx.Client,
        repository_prefix: str = "floww",
        scan_on_push: bool = False,
        upstream_url: str = "",
        refresh_margin_s: float = 300.0,
    ) -> None:
        self._client = client
        self._clock = clock
        self._host = registry_host
        self._issue = issue_push_token
        self._http = http
        self._prefix = repository_prefix.strip("/")
        self._scan = scan_on_push
        self._upstream_url = upstream_url.rstrip("/")
        self._margin = timedelta(seconds=refresh_margin_s)
        self._lock = threading.Lock()
        self._ready: set[str] = set()
        self._token: tuple[str, str, datetime] | None = None  # header, endpoint, expiry

    def __repr__(self) -> str:
        return f"EcrImageRegistry(prefix={self._prefix!r})"

    # RegistryUpstream --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._upstream_url or self._authorization()[1]

    def repository(self, name: str) -> str:
        return ecr_repository(self._prefix, name)

    def authorization(self) -> str | None:
        return self._authorization()[0]

    def prepare(self, name: str) -> None:
        self._ensure(self.repository(name))

    # ImageRegistry -----------------------------------------------------------------------------

    def exists(self, repository: str, tag: str) -> bool:
        check_tag(tag)
        try:
            self._describe(self.repository(repository), tag)
        except NotFound:
            return False
        return True

    def resolve(self, repository: str, tag: str) -> str:
        check_tag(tag)
        return str(self._describe(self.repository(repository), tag)["imageDigest"])

    def push(self, repository: str, tag: str, image: OciImage) -> str:
        check_tag(tag)
        name = self.repository(repository)
        self._ensure(name)
        blobs = {blob_digest(blob): blob for blob in (image.config, *image.layers)}
        answer = self._call(
            "BatchCheckLayerAvailability", repositoryName=name, layerDigests=list(blobs)
        )
        present = {
            layer["layerDigest"]
            for layer in answer.get("layers", [])
            if layer.get("layerAvailability") == "AVAILABLE"
        }
        for digest, blob in blobs.items():
            if digest not in present:
                self._upload(name, digest, blob)
        try:
            self._call(
                "PutImage",
                repositoryName=name,
                imageTag=tag,
                imageManifest=image.manifest().decode(),
                imageManifestMediaType=MANIFEST_MEDIA_TYPE,
                imageDigest=image.digest,  # ECR checks it against the manifest
            )
        except (_AlreadyThere, Conflict):  # the tag exists: fine when it names this image
            if self.resolve(repository, tag) != image.digest:
                raise Conflict(
                    f"{repository}:{tag} names other content and ECR tags are immutable",
                    repository=repository,
                    tag=tag,
                ) from None
        return image.digest

    def pull(self, repository: str, reference: str) -> OciImage:
        name = self.repository(repository)
        image_id = {"imageDigest": reference} if valid_digest(reference) else None
        if image_id is None:
            image_id = {"imageTag": check_tag(reference)}
        answer = self._call(
            "BatchGetImage",
            repositoryName=name,
            imageIds=[image_id],
            acceptedMediaTypes=[MANIFEST_MEDIA_TYPE, _DOCKER_MANIFEST],
        )
        images = answer.get("images", [])
        if not images:
            raise NotFound("manifest", f"{repository}:{reference}")
        try:
            doc = json.loads(images[0]["imageManifest"])
            digests = [str(doc["config"]["digest"])] + [str(x["digest"]) for x in doc["layers"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                f"{repository} {reference} is not a single image manifest", field="manifest"
            ) from exc
        config, *layers = (self._download(name, digest) for digest in digests)
        return OciImage(config=config, layers=tuple(layers))

    def push_credentials(self, namespace_id: str, repository: str) -> RegistryCredentials:
        return scoped_push_credentials(self._host, self._issue, namespace_id, repository)

    # ECR ---------------------------------------------------------------------------------------

    def _authorization(self) -> tuple[str, str, datetime]:
        with self._lock:
            if self._token is None or self._clock.now() >= self._token[2] - self._margin:
                answer = self._call("GetAuthorizationToken")
                try:
                    data = answer["authorizationData"][0]
                    token = str(data["authorizationToken"])
                    expires = data["expiresAt"]
                    endpoint = str(data.get("proxyEndpoint", "")).rstrip("/")
                except (KeyError, IndexError, TypeError) as exc:
                    raise Unavailable("ECR answered GetAuthorizationToken without a token") from exc
                self._token = (f"Basic {token}", endpoint, expires)
            return self._token

    def _ensure(self, name: str) -> None:
        if name in self._ready:
            return
        with contextlib.suppress(_AlreadyThere):
            self._call(
                "CreateRepository",
                repositoryName=name,
                imageTagMutability="IMMUTABLE",
                imageScanningConfiguration={"scanOnPush": self._scan},
            )
        with self._lock:
            self._ready.add(name)

    def _describe(self, name: str, tag: str) -> dict[str, Any]:
        answer = self._call("DescribeImages", repositoryName=name, imageIds=[{"imageTag": tag}])
        details = answer.get("imageDetails", [])
        if not details:
            raise NotFound("manifest", f"{name}:{tag}")
        return dict(details[0])

    def _upload(self, name: str, digest: str, blob: bytes) -> None:
        started = self._call("InitiateLayerUpload", repositoryName=name)
        upload_id, part = started["uploadId"], max(int(started.get("partSize") or 0), 1 << 20)
        for first in range(0, max(len(blob), 1), part):
            chunk = blob[first : first + part]
            self._call(
                "UploadLayerPart",
                repositoryName=name,
                uploadId=upload_id,
                partFirstByte=first,
                partLastByte=first + len(chunk) - 1,
                layerPartBlob=chunk,
            )
        done = self._call(
            "CompleteLayerUpload", repositoryName=name, uploadId=upload_id, layerDigests=[digest]
        )
        if done.get("layerDigest", digest) != digest:
            raise InvalidInput(f"ECR stored {digest} under another digest", field="digest")

    def _download(self, name: str, digest: str) -> bytes:
        answer = self._call("GetDownloadUrlForLayer", repositoryName=name, layerDigest=digest)
        try:
            response = self._http.get(str(answer["downloadUrl"]), follow_redirects=True)
        except httpx.HTTPError as exc:
            raise Unavailable(f"downloading {digest} from ECR failed: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"downloading {digest} from ECR answered {response.status_code}")
        if blob_digest(response.content) != digest:
            raise InvalidInput(f"blob {digest} arrived with other content", field="digest")
        return response.content

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        method = getattr(self._client, _snake(operation))
        try:
            return dict(method(**params))
        except ClientError as exc:
            raise _domain_error(operation, exc, params) from exc
        except BotoCoreError as exc:
            raise Unavailable(f"ECR {operation} failed: {exc}", operation=operation) from exc


class _AlreadyThere(Exception):
    """The repository or the tagged image exists already: success for an idempotent call
    (never leaves the adapter, so it is no domain error)."""


def _domain_error(operation: str, exc: Any, params: dict[str, Any]) -> FlowwError | _AlreadyThere:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")) or code
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    subject = params.get("repositoryName", "")
    if code in {"RepositoryAlreadyExistsException", "ImageAlreadyExistsException"}:
        return _AlreadyThere(message)
    if code in _NOT_FOUND:
        return NotFound(_NOT_FOUND[code], subject or operation)
    if code == "ImageTagAlreadyExistsException":
        return Conflict(f"the tag is immutable and names other content: {message}")
    if code in _DENIED:
        return PermissionDenied(
            f"the server's AWS identity may not call ecr:{operation} "
            "(see the IAM policy in docs/cloud-registry.md)",
            operation=operation,
        )
    retry_later = code in _RETRY_LATER or "Throttl" in code
    if code in _INVALID or (400 <= status < 500 and not retry_later):
        return InvalidInput(f"ECR refused {operation}: {message}", operation=operation)
    return Unavailable(f"ECR {operation} failed ({code or status}); try again", operation=operation)


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
