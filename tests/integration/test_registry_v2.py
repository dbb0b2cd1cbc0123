"""floww's ``/v2/`` endpoint and ``RegistryV2Client`` over real sockets, and the client against
the reference ``docker-registry``."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.adapters.local.image_registry import LocalImageRegistry
from floww.domain.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from floww.domain.oci import MANIFEST_MEDIA_TYPE, OciImage, blob_digest
from floww.entrypoints.http.registry_v2 import registry_routes
from tests.contracts.factories_registry import (
    RegistryTokens,
    docker_registry_server,
    floww_registry_server,
    serve_asgi,
)

pytestmark = pytest.mark.integration

REPO = "floww/ns1"
OTHER = "floww/ns2"
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def image(*contents: bytes) -> OciImage:
    return OciImage(config=CONFIG, layers=tuple(gzip.compress(c, mtime=0) for c in contents))


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Floww:
    def __init__(self, base_url: str, store: LocalImageRegistry, tokens: RegistryTokens) -> None:
        self.base_url, self.store, self.tokens = base_url, store, tokens
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def auth(self, repository: str = REPO) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.issue('ns1', repository, 900)}"}

    def client(self, repository: str = REPO, chunk_size: int = 8 << 20) -> RegistryV2Client:
        token = self.tokens.issue("ns1", repository, 900)
        return RegistryV2Client(
            self.base_url,
            http=self.http,
            credentials=lambda repo: ("floww", token),
            chunk_size=chunk_size,
        )


@pytest.fixture
def floww() -> Iterator[Floww]:
    with floww_registry_server() as (base_url, store, tokens):
        server = Floww(base_url, store, tokens)
        yield server
        server.http.close()


# authorization -------------------------------------------------------------------------------


def test_version_check_challenges_without_credentials(floww: Floww) -> None:
    answer = floww.http.get("/v2/")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Basic realm="floww"'
    assert answer.headers["docker-distribution-api-version"] == "registry/2.0"
    assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert floww.http.get("/v2/", headers=floww.auth()).status_code == 200
    basic = httpx.BasicAuth("floww", floww.tokens.issue("ns1", REPO, 900))
    assert floww.http.get("/v2/", auth=basic).status_code == 200


def test_a_token_for_another_repository_is_forbidden(floww: Floww) -> None:
    answer = floww.http.post("/v2/floww/ns2/blobs/uploads/", headers=floww.auth(REPO))
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["code"] == "DENIED"
    with pytest.raises(PermissionDenied):
        floww.client(REPO).push("floww/ns2", "v1", image(b"x"))


def test_a_forged_or_missing_token_is_unauthenticated(floww: Floww) -> None:
    forged = RegistryV2Client(
        floww.base_url, http=floww.http, credentials=lambda repo: ("floww", "forged")
    )
    with pytest.raises(Unauthenticated):
        forged.push(REPO, "v1", image(b"x"))
    with pytest.raises(Unauthenticated):
        RegistryV2Client(floww.base_url, http=floww.http).exists(REPO, "v1")
    assert floww.store.blob_exists(blob_digest(CONFIG)) is False


# push and pull -------------------------------------------------------------------------------


def test_an_image_pushed_to_v2_is_pulled_back_byte_identical(floww: Floww) -> None:
    img = image(b"requests==2.32.0\n", b"second layer")
    client = floww.client()
    digest = client.push(REPO, "v1", img)
    assert digest == img.digest == floww.store.resolve(REPO, "v1")

    manifest = floww.http.get(f"/v2/{REPO}/manifests/v1", headers=floww.auth())
    assert manifest.status_code == 200
    assert manifest.content == img.manifest()
    assert manifest.headers["content-type"] == MANIFEST_MEDIA_TYPE
    assert manifest.headers["docker-content-digest"] == digest
    head = floww.http.head(f"/v2/{REPO}/manifests/{digest}", headers=floww.auth())
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(img.manifest())
    for layer in img.layers:
        blob = floww.http.get(f"/v2/{REPO}/blobs/{sha(layer)}", headers=floww.auth())
        assert blob.content == layer
        assert blob.headers["docker-content-digest"] == sha(layer)

    pulled = floww.client().pull(REPO, "v1")
    assert pulled == img
    assert floww.store.pull(REPO, digest) == img
    tags = floww.http.get(f"/v2/{REPO}/tags/list", headers=floww.auth())
    assert tags.json() == {"name": REPO, "tags": ["v1"]}


def test_a_repush_of_identical_content_uploads_nothing(floww: Floww) -> None:
    client = floww.client()
    client.push(REPO, "v1", image(b"a", b"b"))
    assert (client.uploaded_blobs, client.uploaded_manifests) == (3, 1)
    client.push(REPO, "v1", image(b"a", b"b"))
    assert (client.uploaded_blobs, client.uploaded_manifests) == (3, 1)
    client.push(REPO, "v2", image(b"a", b"c"))  # config and one layer are known already
    assert (client.uploaded_blobs, client.uploaded_manifests) == (4, 2)


def test_chunked_upload_through_the_client(floww: Floww) -> None:
    big = os.urandom(10_000)
    img = OciImage(config=CONFIG, layers=(big,))
    client = floww.client(chunk_size=1024)
    client.push(REPO, "big", img)
    assert floww.store.pull(REPO, "big") == img
    assert client.pull(REPO, "big") == img


def test_chunked_upload_protocol(floww: Floww) -> None:
    headers = floww.auth()
    start = floww.http.post(f"/v2/{REPO}/blobs/uploads/", headers=headers)
    assert start.status_code == 202
    location = start.headers["location"]
    assert location.startswith(f"/v2/{REPO}/blobs/uploads/")
    assert start.headers["docker-upload-uuid"] in location

    data = os.urandom(3000)
    first = floww.http.patch(
        location, content=data[:1000], headers={**headers, "Content-Range": "0-999"}
    )
    assert (first.status_code, first.headers["range"]) == (202, "0-999")
    out_of_order = floww.http.patch(
        location, content=data[2000:], headers={**headers, "Content-Range": "2000-2999"}
    )
    assert out_of_order.status_code == 416
    assert out_of_order.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
    second = floww.http.patch(first.headers["location"], content=data[1000:2000], headers=headers)
    assert second.headers["range"] == "0-1999"
    status = floww.http.get(location, headers=headers)
    assert (status.status_code, status.headers["range"]) == (204, "0-1999")

    done = floww.http.put(
        location, params={"digest": sha(data)}, content=data[2000:], headers=headers
    )
    assert done.status_code == 201
    assert done.headers["docker-content-digest"] == sha(data)
    assert done.headers["location"] == f"/v2/{REPO}/blobs/{sha(data)}"
    head = floww.http.head(f"/v2/{REPO}/blobs/{sha(data)}", headers=headers)
    assert (head.status_code, head.headers["content-length"]) == (200, "3000")
    assert floww.http.get(location, headers=headers).json()["errors"][0]["code"] == (
        "BLOB_UPLOAD_UNKNOWN"
    )


def test_monolithic_upload_with_a_tampered_digest_is_rejected(floww: Floww) -> None:
    data, wrong = b"layer bytes", sha(b"other bytes")
    answer = floww.http.post(
        f"/v2/{REPO}/blobs/uploads/", params={"digest": wrong}, content=data, headers=floww.auth()
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert floww.store.blob_exists(wrong) is False
    assert floww.store.blob_exists(sha(data)) is False
    ok = floww.http.post(
        f"/v2/{REPO}/blobs/uploads/", params={"digest": sha(data)}, content=data,
        headers=floww.auth(),
    )  # fmt: skip
    assert ok.status_code == 201 and floww.store.blob_exists(sha(data))


def test_a_manifest_naming_missing_blobs_or_a_wrong_digest_is_rejected(floww: Floww) -> None:
    img = image(b"never uploaded")
    headers = {**floww.auth(), "Content-Type": MANIFEST_MEDIA_TYPE}
    answer = floww.http.put(f"/v2/{REPO}/manifests/v1", content=img.manifest(), headers=headers)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    floww.client().push(REPO, "v1", img)
    by_wrong_digest = floww.http.put(
        f"/v2/{REPO}/manifests/{sha(b'x')}", content=img.manifest(), headers=headers
    )
    assert by_wrong_digest.json()["errors"][0]["code"] == "DIGEST_INVALID"


def test_a_blob_tampered_on_disk_fails_the_clients_pull(floww: Floww) -> None:
    img = image(b"original")
    floww.client().push(REPO, "v1", img)
    layer_file = floww.store.root / "blobs" / "sha256" / sha(img.layers[0]).removeprefix("sha256:")
    layer_file.write_bytes(b"tampered")
    with pytest.raises(InvalidInput):
        floww.client().pull(REPO, "v1")


def test_unknown_things_answer_the_spec_error_codes(floww: Floww) -> None:
    headers = floww.auth()
    assert floww.http.get(f"/v2/{REPO}/tags/list", headers=headers).json()["errors"][0]["code"] == (
        "NAME_UNKNOWN"
    )
    floww.client().push(REPO, "v1", image(b"a"))
    missing = floww.http.get(f"/v2/{REPO}/manifests/v9", headers=headers)
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (404, "MANIFEST_UNKNOWN")
    blob = floww.http.get(f"/v2/{REPO}/blobs/{sha(b'none')}", headers=headers)
    assert (blob.status_code, blob.json()["errors"][0]["code"]) == (404, "BLOB_UNKNOWN")
    head = floww.http.head(f"/v2/{REPO}/blobs/{sha(b'none')}", headers=headers)
    assert (head.status_code, head.content) == (404, b"")
    bad = floww.http.get(f"/v2/{REPO}/blobs/sha256:nothex", headers=headers)
    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (400, "DIGEST_INVALID")
    with pytest.raises(NotFound):
        floww.client().resolve(REPO, "v9")


# blobs belong to repositories ----------------------------------------------------------------


def test_a_token_for_one_repository_cannot_read_anothers_blob_by_digest(floww: Floww) -> None:
    theirs = image(b"another namespace's dependencies")
    floww.client(OTHER).push(OTHER, "v1", theirs)
    for blob in (CONFIG, theirs.layers[0]):
        answer = floww.http.get(f"/v2/{REPO}/blobs/{sha(blob)}", headers=floww.auth(REPO))
        assert (answer.status_code, answer.json()["errors"][0]["code"]) == (404, "BLOB_UNKNOWN")
        assert theirs.layers[0] not in answer.content
        head = floww.http.head(f"/v2/{REPO}/blobs/{sha(blob)}", headers=floww.auth(REPO))
        assert head.status_code == 404
    own = floww.http.get(f"/v2/{OTHER}/blobs/{sha(theirs.layers[0])}", headers=floww.auth(OTHER))
    assert own.content == theirs.layers[0]


def test_a_manifest_naming_another_repositorys_blob_is_refused(floww: Floww) -> None:
    theirs = image(b"uploaded to ns2 only")
    floww.client(OTHER).push(OTHER, "v1", theirs)
    headers = {**floww.auth(REPO), "Content-Type": MANIFEST_MEDIA_TYPE}
    answer = floww.http.put(f"/v2/{REPO}/manifests/v1", content=theirs.manifest(), headers=headers)
    assert (answer.status_code, answer.json()["errors"][0]["code"]) == (
        400,
        "MANIFEST_BLOB_UNKNOWN",
    )
    assert floww.store.exists(REPO, "v1") is False


def test_an_identical_layer_in_two_repositories_is_stored_once_and_read_through_both(
    floww: Floww,
) -> None:
    img = image(b"shared dependency layer")
    mine, theirs = floww.client(REPO), floww.client(OTHER)
    assert mine.push(REPO, "v1", img) == theirs.push(OTHER, "v1", img)
    assert theirs.uploaded_blobs == 2  # knowing REPO has them does not make them OTHER's
    assert len(list((floww.store.root / "blobs" / "sha256").iterdir())) == 3
    for repository in (REPO, OTHER):
        answer = floww.http.get(
            f"/v2/{repository}/blobs/{sha(img.layers[0])}", headers=floww.auth(repository)
        )
        assert answer.content == img.layers[0]
        assert floww.client(repository).pull(repository, "v1") == img


# names and limits ----------------------------------------------------------------------------


class RecordingAuthorizer:
    def __init__(self, tokens: RegistryTokens) -> None:
        self.tokens = tokens
        self.calls: list[tuple[str, str]] = []

    def __call__(self, header: str | None, repository: str, action: str) -> None:
        self.calls.append((repository, action))
        self.tokens.authorize(header, repository, action)


@contextlib.contextmanager
def registry(
    max_upload_bytes: int = 1 << 30,
) -> Iterator[tuple[httpx.Client, RecordingAuthorizer, RegistryTokens]]:
    tokens = RegistryTokens()
    authorizer = RecordingAuthorizer(tokens)
    with tempfile.TemporaryDirectory() as root:
        store = LocalImageRegistry(
            Path(root), registry_host="127.0.0.1", max_upload_bytes=max_upload_bytes
        )
        app = Starlette(routes=registry_routes(store, authorizer))
        with serve_asgi(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
            yield http, authorizer, tokens


def test_an_empty_or_malformed_name_is_refused_before_authorizing() -> None:
    with registry() as (http, authorizer, tokens):
        headers = {"Authorization": f"Bearer {tokens.issue('ns1', REPO, 900)}"}
        digest = sha(b"anything")
        requests = [
            ("GET", f"/v2//blobs/{digest}"),
            ("HEAD", f"/v2//blobs/{digest}"),
            ("POST", "/v2//blobs/uploads/"),
            ("PATCH", "/v2//blobs/uploads/" + "0" * 32),
            ("GET", "/v2//manifests/v1"),
            ("PUT", "/v2//manifests/v1"),
            ("GET", "/v2//tags/list"),
            ("GET", "/v2/Floww/NS1/tags/list"),
            ("GET", f"/v2/floww//ns1/blobs/{digest}"),
        ]
        for method, path in requests:
            answer = http.request(method, path, headers=headers)
            assert answer.status_code == 400, (method, path)
            if method != "HEAD":
                assert answer.json()["errors"][0]["code"] == "NAME_INVALID"
        assert authorizer.calls == []
        assert http.get("/v2/", headers=headers).status_code == 200
        assert authorizer.calls == [("", "pull")]


def test_an_upload_past_the_size_limit_is_refused_and_discarded() -> None:
    with registry(max_upload_bytes=1000) as (http, _, tokens):
        headers = {"Authorization": f"Bearer {tokens.issue('ns1', REPO, 900)}"}
        data = os.urandom(1500)
        monolithic = http.post(
            f"/v2/{REPO}/blobs/uploads/", params={"digest": sha(data)}, content=data,
            headers=headers,
        )  # fmt: skip
        assert (monolithic.status_code, monolithic.json()["errors"][0]["code"]) == (
            413,
            "SIZE_INVALID",
        )
        start = http.post(f"/v2/{REPO}/blobs/uploads/", headers=headers)
        location = start.headers["location"]
        assert http.patch(location, content=data[:600], headers=headers).status_code == 202

        def streamed() -> Iterator[bytes]:  # no Content-Length: caught while writing
            yield data[600:1000]
            yield data[1000:]

        over = http.patch(location, content=streamed(), headers=headers)
        assert (over.status_code, over.json()["errors"][0]["code"]) == (413, "SIZE_INVALID")
        gone = http.get(location, headers=headers)
        assert (gone.status_code, gone.json()["errors"][0]["code"]) == (404, "BLOB_UPLOAD_UNKNOWN")
        # A declared length past the limit is refused before the body is read: this one is
        # never sent in full, so an answer proves nothing waited for it.
        url = httpx.URL(str(http.base_url))
        with socket.create_connection((url.host, url.port or 80), timeout=10) as raw:
            target = http.post(f"/v2/{REPO}/blobs/uploads/", headers=headers).headers["location"]
            raw.sendall(
                f"PATCH {target} HTTP/1.1\r\nHost: {url.host}\r\n"
                f"Authorization: {headers['Authorization']}\r\n"
                "Content-Length: 5000\r\n\r\nonly a few bytes".encode()
            )
            assert raw.recv(4096).startswith(b"HTTP/1.1 413")
        small = os.urandom(1000)
        ok = http.post(
            f"/v2/{REPO}/blobs/uploads/", params={"digest": sha(small)}, content=small,
            headers=headers,
        )  # fmt: skip
        assert ok.status_code == 201


# other registries and failures ---------------------------------------------------------------


def test_chunked_push_and_pull_against_docker_registry() -> None:
    with docker_registry_server() as base_url, httpx.Client(timeout=30) as http:
        client = RegistryV2Client(base_url, http=http, chunk_size=4096)
        img = OciImage(config=CONFIG, layers=(os.urandom(20_000), gzip.compress(b"small")))
        digest = client.push("floww/ns1", "v1", img)
        assert client.resolve("floww/ns1", "v1") == digest == img.digest
        assert client.pull("floww/ns1", digest) == img
        client.push("floww/ns1", "v1", img)
        assert (client.uploaded_blobs, client.uploaded_manifests) == (3, 1)


def test_an_unreachable_registry_is_unavailable_and_named() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with httpx.Client(timeout=5) as http:
        client = RegistryV2Client(f"http://127.0.0.1:{port}", http=http)
        with pytest.raises(Unavailable, match=re.escape(f"127.0.0.1:{port}")):
            client.exists(REPO, "v1")
