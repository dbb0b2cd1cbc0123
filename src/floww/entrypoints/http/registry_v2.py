"""The Registry HTTP API v2 (OCI distribution spec) at ``/v2/``, over a ``RegistryStorage``.

Serves what ``docker push``/``pull`` and floww's own client need: the version check, blob
HEAD/GET, blob uploads (monolithic ``POST ?digest=``, or ``POST`` then ``PATCH`` chunks then
``PUT ?digest=``), manifest HEAD/GET/PUT by tag or digest, and the tag list. A cross-repository
mount (``POST ?mount=<digest>&from=<repository>``) copies the blob on the server when the caller
may pull the source and it holds the blob (201); otherwise an ordinary upload starts (202), as
the spec allows.

Every request passes ``authorize(authorization_header, repository, action)`` first, with
action ``pull`` or ``push`` (``repository`` is ``""`` for the version check, and only there: a
route naming an empty or malformed repository answers 400 ``NAME_INVALID`` without asking the
authorizer): it raises ``Unauthenticated`` (401 with a Basic challenge) or
``PermissionDenied`` (403 ``DENIED``). A blob is served only through a repository it belongs to
(404 ``BLOB_UNKNOWN`` otherwise), and an upload past the store's ``max_upload_bytes`` is
discarded with 413 ``SIZE_INVALID``.
``token_from_authorization`` reads the token out of a Basic (as the password) or Bearer header.

Errors use the spec's body ``{"errors": [{"code", "message", "detail"}]}``; request bodies are
streamed to disk, never held whole in memory (manifests excepted, which are size-limited).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from floww.domain.errors import (
    Conflict,
    FlowwError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from floww.domain.oci import check_digest, check_repository
from floww.ports.registry_storage import RegistryStorage

__all__ = [
    "API_VERSION_HEADER",
    "Authorizer",
    "registry_error",
    "registry_routes",
    "token_from_authorization",
]

Authorizer = Callable[[str | None, str, str], None]
Endpoint = Callable[[Request], Awaitable[Response]]

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
CHALLENGE = 'Basic realm="floww"'
_CHUNK = 1024 * 1024
_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)$")

_NOT_FOUND_CODES = {
    "blob": "BLOB_UNKNOWN",
    "manifest": "MANIFEST_UNKNOWN",
    "repository": "NAME_UNKNOWN",
    "upload": "BLOB_UPLOAD_UNKNOWN",
}
_INVALID_CODES = {
    "name": "NAME_INVALID",
    "tag": "TAG_INVALID",
    "digest": "DIGEST_INVALID",
    "manifest": "MANIFEST_INVALID",
    "blob": "MANIFEST_BLOB_UNKNOWN",
}


def token_from_authorization(header: str | None) -> str | None:
    """The token in ``Bearer <token>`` or ``Basic base64(<user>:<token>)``; None otherwise."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password if sep and password else None
    return None


def registry_routes(store: RegistryStorage, authorize: Authorizer) -> list[BaseRoute]:
    api = _RegistryApi(store, authorize)
    return [
        Route("/v2/", _guarded(api.version), methods=["GET"]),
        Route("/v2/{name:path}/blobs/uploads/", _guarded(api.start_upload), methods=["POST"]),
        Route(
            "/v2/{name:path}/blobs/uploads/{upload_id}",
            _guarded(api.upload),
            methods=["GET", "PATCH", "PUT", "DELETE"],
        ),
        Route("/v2/{name:path}/blobs/{digest}", _guarded(api.blob), methods=["GET"]),
        Route(
            "/v2/{name:path}/manifests/{reference}", _guarded(api.manifest), methods=["GET", "PUT"]
        ),
        Route("/v2/{name:path}/tags/list", _guarded(api.tags), methods=["GET"]),
    ]


class _RegistryApi:
    def __init__(self, store: RegistryStorage, authorize: Authorizer) -> None:
        self._store = store
        self._authorize = authorize

    def _allow(self, request: Request, action: str) -> str:
        """The repository the route names, once the caller may ``action`` it; a malformed or
        empty name is refused before the authorizer sees it (which reads ``""`` as "check the
        credentials only")."""
        name = check_repository(str(request.path_params.get("name", "")))
        self._authorize(request.headers.get("authorization"), name, action)
        return name

    async def version(self, request: Request) -> Response:
        self._authorize(request.headers.get("authorization"), "", "pull")
        return JSONResponse({})

    async def blob(self, request: Request) -> Response:
        name = self._allow(request, "pull")
        digest = check_digest(request.path_params["digest"])
        size = await run_in_threadpool(self._store.blob_size, name, digest)
        headers = {"Docker-Content-Digest": digest, "Content-Length": str(size)}
        if request.method == "HEAD":
            return Response(headers=headers, media_type="application/octet-stream")
        handle = await run_in_threadpool(self._store.open_blob, name, digest)

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(_CHUNK):
                    yield chunk

        return StreamingResponse(chunks(), headers=headers, media_type="application/octet-stream")

    async def start_upload(self, request: Request) -> Response:
        name = self._allow(request, "push")
        mounted = await self._mount(request, name)
        if mounted is not None:
            return mounted
        upload_id = await run_in_threadpool(self._store.start_upload, name)
        digest = request.query_params.get("digest")
        if digest is None:
            return _upload_status(name, upload_id, 0)
        return await self._finish(request, name, upload_id, digest)

    async def _mount(self, request: Request, name: str) -> Response | None:
        """``POST ?mount=<digest>&from=<repository>``: when the caller may pull ``from`` and it
        holds the blob, the blob is copied into ``name`` on the server (streamed, never whole
        in memory) and answered 201; otherwise ``None``: an ordinary upload starts, as the
        spec says."""
        digest, source = request.query_params.get("mount"), request.query_params.get("from")
        if not digest or not source:
            return None
        try:
            check_digest(digest)
            source = check_repository(source)
            self._authorize(request.headers.get("authorization"), source, "pull")
            await run_in_threadpool(self._copy_blob, source, name, digest)
        except (InvalidInput, PermissionDenied, NotFound):
            return None
        headers = {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
        return Response(status_code=201, headers=headers)

    def _copy_blob(self, source: str, name: str, digest: str) -> None:
        with contextlib.suppress(NotFound):
            self._store.blob_size(name, digest)
            return  # there already
        handle = self._store.open_blob(source, digest)
        upload_id = self._store.start_upload(name)
        try:
            with handle, self._store.append_to_upload(name, upload_id) as sink:
                while chunk := handle.read(_CHUNK):
                    sink.write(chunk)
            self._store.finish_upload(name, upload_id, digest)
        except BaseException:
            with contextlib.suppress(NotFound):
                self._store.cancel_upload(name, upload_id)
            raise

    async def upload(self, request: Request) -> Response:
        name = self._allow(request, "push")
        upload_id = request.path_params["upload_id"]
        if request.method == "GET":
            size = self._store.upload_size(name, upload_id)
            return _upload_status(name, upload_id, size, status_code=204)
        if request.method == "DELETE":
            self._store.upload_size(name, upload_id)  # NotFound when there is no such upload
            self._store.cancel_upload(name, upload_id)
            return Response(status_code=204)
        if request.method == "PATCH":
            await self._append(request, name, upload_id)
            return _upload_status(name, upload_id, self._store.upload_size(name, upload_id))
        digest = request.query_params.get("digest")
        if digest is None:
            raise InvalidInput("completing an upload needs ?digest=", field="digest")
        return await self._finish(request, name, upload_id, digest)

    async def _append(self, request: Request, name: str, upload_id: str) -> None:
        start = _range_start(request.headers.get("content-range"))
        declared = request.headers.get("content-length", "")
        with self._store.append_to_upload(name, upload_id, start=start) as sink:
            if declared.isdigit() and sink.size + int(declared) > sink.limit:
                raise PayloadTooLarge(sink.size + int(declared), sink.limit)  # before reading it
            async for chunk in request.stream():
                if chunk:
                    await run_in_threadpool(sink.write, chunk)

    async def _finish(self, request: Request, name: str, upload_id: str, digest: str) -> Response:
        check_digest(digest)
        try:
            await self._append(request, name, upload_id)
        except BaseException:
            with contextlib.suppress(NotFound):  # an oversize upload is discarded already
                self._store.cancel_upload(name, upload_id)
            raise
        stored = await run_in_threadpool(self._store.finish_upload, name, upload_id, digest)
        headers = {"Location": f"/v2/{name}/blobs/{stored}", "Docker-Content-Digest": stored}
        return Response(status_code=201, headers=headers)

    async def manifest(self, request: Request) -> Response:
        reference = request.path_params["reference"]
        if request.method == "PUT":
            name = self._allow(request, "push")
            body = await _limited_body(request, self._store.max_manifest_bytes)
            media_type = request.headers.get("content-type", "").split(";")[0].strip() or None
            digest = await run_in_threadpool(
                self._store.put_manifest, name, reference, body, media_type
            )
            headers = {
                "Location": f"/v2/{name}/manifests/{digest}",
                "Docker-Content-Digest": digest,
            }
            return Response(status_code=201, headers=headers)
        name = self._allow(request, "pull")
        manifest = await run_in_threadpool(self._store.get_manifest, name, reference)
        headers = {"Docker-Content-Digest": manifest.digest}
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(manifest.body))
            return Response(headers=headers, media_type=manifest.media_type)
        return Response(manifest.body, headers=headers, media_type=manifest.media_type)

    async def tags(self, request: Request) -> Response:
        name = self._allow(request, "pull")
        tags = await run_in_threadpool(self._store.tag_list, name)
        last = request.query_params.get("last")
        if last:
            tags = [tag for tag in tags if tag > last]
        count = request.query_params.get("n")
        if count is not None:
            if not count.isdigit():
                raise InvalidInput(f"n must be a non-negative integer, not {count!r}")
            tags = tags[: int(count)]
        return JSONResponse({"name": name, "tags": tags})


def _upload_status(name: str, upload_id: str, size: int, *, status_code: int = 202) -> Response:
    headers = {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": upload_id,
    }
    return Response(status_code=status_code, headers=headers)


def _range_start(header: str | None) -> int | None:
    if header is None:
        return None
    match = _CONTENT_RANGE.match(header.strip())
    if match is None or int(match[2]) < int(match[1]):
        raise Conflict(f"malformed Content-Range {header!r}")
    return int(match[1])


async def _limited_body(request: Request, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(size, limit)
        parts.append(chunk)
    return b"".join(parts)


def _guarded(endpoint: Endpoint) -> Endpoint:
    """Render domain errors in the spec's shape and stamp the API version on every answer."""

    @functools.wraps(endpoint)
    async def run(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except FlowwError as exc:
            response = _error_response(exc, head=request.method == "HEAD")
        response.headers[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        return response

    return run


def registry_error(exc: FlowwError, *, head: bool = False) -> Response:
    """A domain error as the spec's error response (a 401 carries floww's Basic challenge)."""
    return _error_response(exc, head=head)


def _error_response(exc: FlowwError, *, head: bool) -> Response:
    status, code = _status_and_code(exc)
    headers = {"WWW-Authenticate": CHALLENGE} if status == 401 else {}
    if head:
        return Response(status_code=status, headers=headers)
    detail: dict[str, Any] = {k: v for k, v in exc.details.items() if isinstance(v, str | int)}
    body = {"errors": [{"code": code, "message": exc.message, "detail": detail}]}
    return JSONResponse(body, status_code=status, headers=headers)


def _status_and_code(exc: FlowwError) -> tuple[int, str]:
    if isinstance(exc, Unauthenticated):
        return 401, "UNAUTHORIZED"
    if isinstance(exc, PermissionDenied):
        return 403, "DENIED"
    if isinstance(exc, NotFound):
        return 404, _NOT_FOUND_CODES.get(exc.kind, "NAME_UNKNOWN")
    if isinstance(exc, PayloadTooLarge):
        return 413, "SIZE_INVALID"
    if isinstance(exc, InvalidInput):
        return 400, _INVALID_CODES.get(str(exc.details.get("field")), "UNSUPPORTED")
    if isinstance(exc, Conflict):
        return 416, "BLOB_UPLOAD_INVALID"
    if isinstance(exc, Unavailable):
        return 503, "UNAVAILABLE"
    return 400, "UNSUPPORTED"
