"""The Registry HTTP API v2 at ``/v2/`` as a proxy in front of an upstream registry (ECR, or any
v2 server), the other way to serve ``/v2/`` besides ``registry_v2`` over a local storage.

Guarantees:

- Every request passes ``authorize(authorization_header, repository, action)`` first (the same
  check as the local ``/v2/``: ``pull`` for GET/HEAD, ``push`` otherwise), so a client acts only
  within its token's scope; the client's credentials never leave the server.
- What is allowed is forwarded to ``upstream.base_url`` under the upstream's repository
  (``upstream.repository(name)``) with the upstream's credentials; a push first asks the
  upstream to ``prepare`` the repository (ECR creates it).
- Bodies stream both ways: request chunks are sent upstream as they arrive and answer chunks
  are relayed as they come back, so no layer is held whole in memory or written to disk.
- ``Location`` (and ``Link``) headers that point into the upstream are rewritten to the proxy's
  own paths, and a tag list names the repository as the client asked for it; any other
  location (a storage redirect) passes unchanged. The upstream's ``WWW-Authenticate`` never
  reaches a client: a 401 from the proxy carries floww's challenge, and an upstream that
  refuses the server's credentials is a 502 ``UNAVAILABLE``.
- Upstream errors pass through with their status in the spec's error body (a body that is not
  one is wrapped in one); an unreachable upstream is a 503 ``UNAVAILABLE``.
- A cross-repository mount (``POST .../blobs/uploads/?mount=&from=``) is forwarded only when
  the caller may pull ``from`` too, or ``from`` is one of the ``shared`` repositories (base
  images every namespace may mount from); anything else is 403 ``DENIED``. The catalog and
  deletes of blobs and manifests are refused with ``DENIED``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable, Collection
from urllib.parse import parse_qs, urlencode

import httpx
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from floww.domain.errors import FlowwError, InvalidInput, NotFound, PermissionDenied, Unavailable
from floww.domain.oci import check_digest, check_repository
from floww.entrypoints.http.registry_v2 import API_VERSION_HEADER, Authorizer, registry_error
from floww.ports.registry_upstream import RegistryUpstream

__all__ = ["proxy_routes"]

_PATH = re.compile(
    r"^/v2/(?P<name>[a-z0-9][a-z0-9._/-]*?)/(?P<rest>"
    r"blobs/uploads/(?:[A-Za-z0-9._=-]+)?"
    r"|blobs/sha256:[a-f0-9]{64}"
    r"|manifests/(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64})"
    r"|tags/list)$"
)
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


_REQUEST_HEADERS = ("accept", "content-type", "content-length", "content-range", "range")
_ANSWER_HEADERS = (
    "content-type",
    "content-length",
    "content-range",
    "range",
    "accept-ranges",
    "docker-content-digest",
    "docker-upload-uuid",
    "etag",
    "oci-chunk-min-length",
    "retry-after",
)
_MAX_ERROR_BODY = 64 * 1024
_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=600.0, pool=30.0)


def proxy_routes(
    upstream: RegistryUpstream,
    authorize: Authorizer,
    *,
    shared: Collection[str] = (),
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[BaseRoute]:
    """``/v2/`` routes forwarding to ``upstream`` (``transport`` replaces the network one)."""
    proxy = _Proxy(upstream, authorize, frozenset(shared), transport)
    return [
        Route("/v2/", _guarded(proxy.version), methods=["GET"]),
        Route("/v2/{path:path}", _guarded(proxy.forward), methods=_METHODS),
    ]


class _Proxy:
    def __init__(
        self,
        upstream: RegistryUpstream,
        authorize: Authorizer,
        shared: frozenset[str],
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._upstream = upstream
        self._authorize = authorize
        self._shared = shared
        self._http = httpx.AsyncClient(timeout=_TIMEOUT, transport=transport)

    async def version(self, request: Request) -> Response:
        await run_in_threadpool(self._authorize, request.headers.get("authorization"), "", "pull")
        return JSONResponse({})

    async def forward(self, request: Request) -> Response:
        header = request.headers.get("authorization")
        match = _PATH.match(request.url.path)
        if match is None:
            await run_in_threadpool(self._authorize, header, "", "pull")
            if request.url.path.rstrip("/") == "/v2/_catalog":
                raise PermissionDenied("the catalog is not served; name your repository")
            raise NotFound("repository", request.url.path)
        name, rest = check_repository(match["name"]), match["rest"]
        method = request.method
        if method == "DELETE" and not rest.startswith("blobs/uploads/"):
            raise PermissionDenied("deleting blobs and manifests is not allowed here")
        action = "pull" if method in {"GET", "HEAD"} else "push"
        await run_in_threadpool(self._authorize, header, name, action)
        # Registry clients never send forms; an upstream may read parameters (a mount's
        # ``from``) out of one, past the checks below, which read the query only.
        if _media_type(request.headers.get("content-type", "")) in _FORMS:
            raise InvalidInput("the registry API takes no form bodies")
        query = request.url.query
        if method == "POST" and "mount" in request.query_params:
            query = await self._mount_query(request, header)
        if action == "push":
            await run_in_threadpool(self._upstream.prepare, name)
        return await self._send(request, name, rest, query)

    async def _mount_query(self, request: Request, header: str | None) -> str:
        digest = check_digest(request.query_params["mount"])
        source = check_repository(request.query_params.get("from", ""))
        if source not in self._shared:
            try:
                await run_in_threadpool(self._authorize, header, source, "pull")
            except PermissionDenied:
                raise PermissionDenied(
                    f"blobs may be mounted from {source} only by those who may pull it"
                ) from None
        return urlencode({"mount": digest, "from": self._upstream.repository(source)})

    async def _send(self, request: Request, name: str, rest: str, query: str) -> Response:
        # credentials first, off the event loop: they may be fetched (ECR), and the base URL
        # may come with them
        credentials = await run_in_threadpool(self._upstream.authorization)
        upstream_name = self._upstream.repository(name)
        url = f"{self._upstream.base_url}/v2/{upstream_name}/{rest}"
        if query:
            url = f"{url}?{query}"
        # a list, not a dict: clients send several Accept headers, each one counts
        headers = [(k, v) for k, v in request.headers.items() if k in _REQUEST_HEADERS]
        if credentials:
            headers.append(("authorization", credentials))
        length = request.headers.get("content-length", "0")
        # Starting an upload carries a body only when it is the whole blob (``digest``).
        starts_upload = request.method == "POST" and rest == "blobs/uploads/"
        monolithic = "digest" in parse_qs(query)
        streams_body = (
            (not starts_upload or monolithic)
            and request.method
            in {
                "POST",
                "PUT",
                "PATCH",
            }
            and (
                (length.isdigit() and int(length) > 0)
                or "chunked" in request.headers.get("transfer-encoding", "")
            )
        )
        if not streams_body:  # nothing forwarded: no length or type for a body that is not sent
            headers = [(k, v) for k, v in headers if k not in ("content-length", "content-type")]
        outgoing = self._http.build_request(
            request.method,
            url,
            headers=headers,
            content=request.stream() if streams_body else None,
        )
        try:
            answer = await self._http.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the upstream registry did not answer: {type(exc).__name__}"
            ) from exc
        if answer.status_code == 401:
            await answer.aclose()
            # the server's own credentials were refused: a gateway error (502), not the client's
            raise Unavailable(
                "the upstream registry refused this server's credentials", upstream="refused"
            )
        relayed = self._answer_headers(answer, name, upstream_name)
        if answer.status_code >= 400:
            return await _relay_error(answer, relayed, head=request.method == "HEAD")
        if request.method == "HEAD" or answer.status_code in {204, 304}:
            await answer.aclose()
            return Response(status_code=answer.status_code, headers=relayed)
        if rest == "tags/list" and upstream_name != name:
            return await _tags_under(answer, relayed, name, upstream_name)
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers=relayed,
            background=BackgroundTask(answer.aclose),
        )

    def _answer_headers(
        self, answer: httpx.Response, name: str, upstream_name: str
    ) -> dict[str, str]:
        relayed = {k: v for k, v in answer.headers.items() if k in _ANSWER_HEADERS}
        location = answer.headers.get("location")
        if location:
            relayed["location"] = self._local_location(location, name, upstream_name)
        link = answer.headers.get("link")
        if link:
            relayed["link"] = link.replace(f"/v2/{upstream_name}/", f"/v2/{name}/")
        return relayed

    def _local_location(self, location: str, name: str, upstream_name: str) -> str:
        """An upstream location as a path on the proxy; one elsewhere (storage) unchanged."""
        target = httpx.URL(location)
        base = httpx.URL(self._upstream.base_url)
        if target.is_absolute_url and (target.scheme, target.host, target.port) != (
            base.scheme,
            base.host,
            base.port,
        ):
            return location
        path = target.raw_path.decode("ascii")
        prefix = f"/v2/{upstream_name}/"
        if path.startswith(prefix):
            path = f"/v2/{name}/{path[len(prefix) :]}"
        return path


async def _tags_under(
    answer: httpx.Response, headers: dict[str, str], name: str, upstream_name: str
) -> Response:
    """A tag list (one small page) naming the repository as the client asked for it, not as
    the upstream stores it (ECR's ``<prefix>/<namespace id>``)."""
    try:
        body = await answer.aread()
    finally:
        await answer.aclose()
    try:
        listed = json.loads(body)
    except ValueError:
        listed = None
    if isinstance(listed, dict) and listed.get("name") == upstream_name:
        listed["name"] = name
        body = json.dumps(listed).encode()
    headers = {k: v for k, v in headers.items() if k != "content-length"}
    return Response(body, status_code=answer.status_code, headers=headers)


async def _relay_error(answer: httpx.Response, headers: dict[str, str], *, head: bool) -> Response:
    """The upstream's error with its status, in the spec's error body."""
    headers.pop("content-length", None)
    headers.pop("content-type", None)
    if head:
        await answer.aclose()
        return Response(status_code=answer.status_code, headers=headers)
    body = b""
    try:
        async for chunk in answer.aiter_raw():
            body += chunk
            if len(body) > _MAX_ERROR_BODY:
                break
    finally:
        await answer.aclose()
    try:
        document = json.loads(body)
        errors = document["errors"]
        if not isinstance(errors, list) or not errors:
            raise ValueError("no errors")
    except (ValueError, KeyError, TypeError):
        code = "DENIED" if answer.status_code == 403 else "UNKNOWN"
        text = body[:512].decode("utf-8", "replace").strip() or answer.reason_phrase
        document = {"errors": [{"code": code, "message": f"upstream registry: {text}"}]}
    return JSONResponse(document, status_code=answer.status_code, headers=headers)


def _guarded(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[..., Awaitable[Response]]:
    @functools.wraps(endpoint)
    async def run(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except FlowwError as exc:
            response = registry_error(exc, head=request.method == "HEAD")
            if isinstance(exc, Unavailable) and exc.details.get("upstream") == "refused":
                response.status_code = 502
        response.headers[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        return response

    return run
