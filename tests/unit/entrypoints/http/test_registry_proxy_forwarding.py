"""How the registry proxy forwards, shown against an upstream played by an ``httpx``
transport (the real upstream, ``docker-registry``, is in
``tests/integration/test_registry_proxy.py``): what goes upstream, which locations are
rewritten, how upstream answers that are not registry errors reach the client."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.testclient import TestClient

from floww.domain.errors import PermissionDenied, Unauthenticated
from floww.entrypoints.http.registry_proxy import proxy_routes

UPSTREAM = "https://upstream.example:5000"
DIGEST = "sha256:" + "a" * 64


class Upstream:
    """Prefixes floww's repositories with ``mirror/``; records every request it gets."""

    base_url = UPSTREAM

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []
        self.prepared: list[str] = []
        self.answer: tuple[int, dict[str, str], str] = (200, {}, "")

    def repository(self, name: str) -> str:
        return f"mirror/{name}"

    def authorization(self) -> str | None:
        return "Basic dXBzdHJlYW06cGFzcw=="

    def prepare(self, name: str) -> None:
        self.prepared.append(name)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.seen.append(request)
        status, headers, text = self.answer
        # a stream, as from the network (content given whole would count as read already)
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(text.encode()))


def authorize(header: str | None, repository: str, action: str) -> None:
    if header != "Bearer client-token":
        raise Unauthenticated("no token")
    if repository and repository != "floww/ns1":
        raise PermissionDenied(f"this token may not {action} {repository}")


def client(upstream: Upstream) -> TestClient:
    transport = httpx.MockTransport(upstream.handle)
    app = Starlette(routes=proxy_routes(upstream, authorize, transport=transport))
    return TestClient(app, headers={"Authorization": "Bearer client-token"})


def test_requests_go_upstream_with_the_upstream_s_credentials_not_the_client_s() -> None:
    upstream = Upstream()
    upstream.answer = (
        202,
        {
            "Location": f"{UPSTREAM}/v2/mirror/floww/ns1/blobs/uploads/u1?_state=xyz",
            "Docker-Upload-UUID": "u1",
            "WWW-Authenticate": 'Basic realm="upstream"',
            "Set-Cookie": "session=upstream",
        },
        "",
    )
    answer = client(upstream).post("/v2/floww/ns1/blobs/uploads/")

    assert answer.status_code == 202
    assert answer.headers["location"] == "/v2/floww/ns1/blobs/uploads/u1?_state=xyz"
    assert answer.headers["docker-upload-uuid"] == "u1"
    assert "www-authenticate" not in answer.headers
    assert "set-cookie" not in answer.headers
    (sent,) = upstream.seen
    assert str(sent.url) == f"{UPSTREAM}/v2/mirror/floww/ns1/blobs/uploads/"
    assert sent.headers["authorization"] == "Basic dXBzdHJlYW06cGFzcw=="
    assert upstream.prepared == ["floww/ns1"]


def test_a_redirect_to_storage_elsewhere_passes_unchanged_and_pulls_prepare_nothing() -> None:
    upstream = Upstream()
    s3 = "https://bucket.s3.amazonaws.com/layer?X-Amz-Signature=abc"
    upstream.answer = (307, {"Location": s3}, "")

    answer = client(upstream).get(f"/v2/floww/ns1/blobs/{DIGEST}", follow_redirects=False)

    assert answer.status_code == 307
    assert answer.headers["location"] == s3
    assert upstream.prepared == []


def test_an_upstream_error_that_is_not_a_registry_error_is_wrapped_in_one() -> None:
    upstream = Upstream()
    upstream.answer = (502, {}, "<html>bad gateway</html>")

    answer = client(upstream).get("/v2/floww/ns1/manifests/v1")

    assert answer.status_code == 502
    (error,) = answer.json()["errors"]
    assert error["code"] == "UNKNOWN"
    assert "bad gateway" in error["message"]


def test_what_the_token_does_not_allow_never_reaches_the_upstream() -> None:
    upstream = Upstream()
    proxy = client(upstream)

    other = proxy.get("/v2/floww/ns2/manifests/v1")
    anonymous = proxy.get("/v2/floww/ns1/manifests/v1", headers={"Authorization": ""})
    mount = proxy.post(
        "/v2/floww/ns1/blobs/uploads/", params={"mount": DIGEST, "from": "floww/ns2"}
    )
    delete = proxy.delete("/v2/floww/ns1/manifests/v1")
    traversal = proxy.get("/v2/floww/ns1/../ns2/manifests/v1")

    assert other.status_code == 403
    assert other.json()["errors"][0]["code"] == "DENIED"
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="floww"'
    assert mount.status_code == 403
    assert delete.status_code == 403
    assert traversal.status_code in {400, 403, 404}
    assert upstream.seen == []


def test_a_mount_names_the_upstream_repository_of_its_source() -> None:
    upstream = Upstream()
    upstream.answer = (201, {"Location": f"/v2/mirror/floww/ns1/blobs/{DIGEST}"}, "")

    answer = client(upstream).post(
        "/v2/floww/ns1/blobs/uploads/", params={"mount": DIGEST, "from": "floww/ns1"}
    )

    assert answer.status_code == 201
    assert answer.headers["location"] == f"/v2/floww/ns1/blobs/{DIGEST}"
    (sent,) = upstream.seen
    assert sent.url.params["from"] == "mirror/floww/ns1"
    assert sent.url.params["mount"] == DIGEST
