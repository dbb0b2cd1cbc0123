"""The local OCI store on ``tmp_path``, and the v2 client's error mapping over a mock transport."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.adapters.local.image_registry import LocalImageRegistry
from floww.adapters.local.oci_store import MAX_MANIFEST_BYTES, OciStore
from floww.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from floww.domain.oci import OciImage

REPO = "floww/ns1"
OTHER = "floww/ns2"
CONFIG = b'{"architecture":"amd64","os":"linux"}'


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image(content: bytes = b"layer") -> OciImage:
    return OciImage(config=CONFIG, layers=(gzip.compress(content, mtime=0),))


def make(root: Path, issue: Callable[[str, str, int], str] | None = None) -> LocalImageRegistry:
    return LocalImageRegistry(root, registry_host="127.0.0.1:8000", issue_push_token=issue)


@pytest.fixture
def store(tmp_path: Path) -> LocalImageRegistry:
    return make(tmp_path, lambda ns, repo, ttl: f"token-{ns}-{ttl}")


def leftovers(store: LocalImageRegistry) -> list[Path]:
    return list((store.root / "tmp").iterdir())


# blobs --------------------------------------------------------------------------------------


def test_blobs_are_content_addressed_files(store: LocalImageRegistry) -> None:
    digest = store.put_blob(b"hello", repository=REPO)
    assert digest == sha(b"hello")
    path = store.root / "blobs" / "sha256" / digest.removeprefix("sha256:")
    assert path.read_bytes() == b"hello"
    assert store.blob_size(REPO, digest) == 5 and store.blob_exists(digest)
    assert store.put_blob(b"hello", digest) == digest  # storing again is harmless
    assert leftovers(store) == []


def test_a_blob_whose_content_does_not_match_its_digest_is_not_stored(
    store: LocalImageRegistry,
) -> None:
    with pytest.raises(InvalidInput, match="hashes to"):
        store.put_blob(b"hello", sha(b"goodbye"))
    assert not store.blob_exists(sha(b"goodbye")) and not store.blob_exists(sha(b"hello"))
    assert leftovers(store) == []


def test_unknown_and_malformed_digests(store: LocalImageRegistry) -> None:
    with pytest.raises(NotFound):
        store.blob_size(REPO, sha(b"nothing"))
    with pytest.raises(NotFound):
        store.open_blob(REPO, sha(b"nothing"))
    for bad in ("sha256:short", "md5:" + "0" * 32, "sha256:../../etc/passwd", "SHA256:" + "A" * 64):
        with pytest.raises(InvalidInput):
            store.blob_size(REPO, bad)
        assert store.blob_exists(bad) is False


# uploads ------------------------------------------------------------------------------------


def test_a_resumable_upload_is_checked_and_moved_into_place(store: LocalImageRegistry) -> None:
    upload = store.start_upload(REPO)
    with store.append_to_upload(REPO, upload, start=0) as sink:
        sink.write(b"abc")
    with store.append_to_upload(REPO, upload) as sink:
        sink.write(b"def")
    assert store.upload_size(REPO, upload) == 6
    with pytest.raises(Conflict), store.append_to_upload(REPO, upload, start=3):
        pass
    assert store.finish_upload(REPO, upload, sha(b"abcdef")) == sha(b"abcdef")
    assert store.read_blob(REPO, sha(b"abcdef")) == b"abcdef"
    with pytest.raises(NotFound):
        store.upload_size(REPO, upload)


def test_an_upload_with_the_wrong_digest_is_discarded(store: LocalImageRegistry) -> None:
    upload = store.start_upload(REPO)
    with store.append_to_upload(REPO, upload) as sink:
        sink.write(b"abc")
    with pytest.raises(InvalidInput):
        store.finish_upload(REPO, upload, sha(b"xyz"))
    assert not store.blob_exists(sha(b"abc")) and not store.blob_exists(sha(b"xyz"))
    with pytest.raises(NotFound):
        store.upload_size(REPO, upload)


def test_an_upload_belongs_to_its_repository(store: LocalImageRegistry) -> None:
    upload = store.start_upload(REPO)
    with pytest.raises(NotFound):
        store.upload_size("floww/other", upload)
    for forged in ("../../blobs", "0" * 32, ""):
        with pytest.raises(NotFound):
            store.upload_size(REPO, forged)


def test_one_writer_at_a_time_per_upload(store: LocalImageRegistry) -> None:
    upload = store.start_upload(REPO)
    with store.append_to_upload(REPO, upload) as sink:
        sink.write(b"a")
        with pytest.raises(Conflict, match="another request"), store.append_to_upload(REPO, upload):
            pass


# manifests and tags -------------------------------------------------------------------------


def test_push_writes_an_oci_index_with_ref_names(store: LocalImageRegistry) -> None:
    old = store.push(REPO, "latest", image(b"a"))
    new = store.push(REPO, "latest", image(b"b"))
    store.push(REPO, "v1", image(b"b"))
    index = json.loads((store.root / "repositories" / "floww+ns1" / "index.json").read_bytes())
    refs = {(e["digest"], (e.get("annotations") or {}).get("org.opencontainers.image.ref.name"))
            for e in index["manifests"]}  # fmt: skip
    assert refs == {(new, "latest"), (new, "v1"), (old, None)}
    assert store.tag_list(REPO) == ["latest", "v1"]
    assert store.pull(REPO, old) == image(b"a")
    assert leftovers(store) == []


def test_content_survives_a_new_instance(tmp_path: Path) -> None:
    digest = make(tmp_path).push(REPO, "v1", image())
    again = make(tmp_path)
    assert again.resolve(REPO, "v1") == digest
    assert again.pull(REPO, "v1") == image()


def test_concurrent_pushes_lose_no_tag(store: LocalImageRegistry) -> None:
    errors: list[BaseException] = []

    def push(n: int) -> None:
        try:
            store.push(REPO, f"t{n}", image(str(n % 3).encode()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert store.tag_list(REPO) == sorted(f"t{n}" for n in range(24))
    assert leftovers(store) == []


def test_manifest_rules(store: LocalImageRegistry) -> None:
    img = image()
    with pytest.raises(InvalidInput, match="unknown content") as missing:
        store.put_manifest(REPO, "v1", img.manifest())
    assert missing.value.details["field"] == "blob"
    store.push(REPO, "v1", img)
    with pytest.raises(InvalidInput, match="hashes to"):
        store.put_manifest(REPO, sha(b"other"), img.manifest())
    assert store.put_manifest(REPO, img.digest, img.manifest()) == img.digest
    for body in (b"not json", b"[]", b'{"schemaVersion": 1}'):
        with pytest.raises(InvalidInput):
            store.put_manifest(REPO, "v2", body)
    with pytest.raises(PayloadTooLarge):
        store.put_manifest(REPO, "v2", b" " * (MAX_MANIFEST_BYTES + 1))
    assert store.get_manifest(REPO, "v1").body == img.manifest()


def test_unknown_repositories_tags_and_digests(store: LocalImageRegistry) -> None:
    assert store.exists(REPO, "v1") is False
    with pytest.raises(NotFound) as unknown:
        store.resolve(REPO, "v1")
    assert unknown.value.kind == "repository"
    store.push(REPO, "v1", image())
    with pytest.raises(NotFound):
        store.pull(REPO, "v2")
    with pytest.raises(NotFound):
        store.pull(REPO, sha(b"nothing"))
    with pytest.raises(NotFound):
        store.pull("floww/ns2", image().digest)  # stored, but not in that repository


@pytest.mark.parametrize(
    ("repository", "tag"),
    [("Floww/NS", "v1"), ("floww//x", "v1"), ("floww/x/", "v1"), ("a" * 256, "v1"),
     ("../etc", "v1"), (REPO, "bad tag"), (REPO, "-dash"), (REPO, "x" * 129)],
)  # fmt: skip
def test_bad_names_are_invalid_input(store: LocalImageRegistry, repository: str, tag: str) -> None:
    with pytest.raises(InvalidInput):
        store.push(repository, tag, image())
    with pytest.raises(InvalidInput):
        store.exists(repository, tag)
    assert not (store.root / "repositories").joinpath("..", "etc").exists()


def test_a_blob_corrupted_on_disk_is_reported(store: LocalImageRegistry) -> None:
    img = image()
    store.push(REPO, "v1", img)
    layer = store.root / "blobs" / "sha256" / sha(img.layers[0]).removeprefix("sha256:")
    layer.write_bytes(b"rot")
    with pytest.raises(InvalidInput, match="corrupt"):
        store.pull(REPO, "v1")


# blobs belong to repositories ----------------------------------------------------------------


def stored_blob_files(store: OciStore) -> list[Path]:
    return sorted((store.root / "blobs" / "sha256").iterdir())


def test_a_blob_is_served_only_through_a_repository_it_belongs_to(
    store: LocalImageRegistry,
) -> None:
    img = image(b"secret layer")
    store.push(OTHER, "v1", img)
    layer = sha(img.layers[0])
    assert store.blob_exists(layer)  # stored...
    assert store.repository_has_blob(OTHER, layer)
    assert not store.repository_has_blob(REPO, layer)  # ...but not REPO's
    with pytest.raises(NotFound):
        store.blob_size(REPO, layer)
    with pytest.raises(NotFound):
        store.open_blob(REPO, layer)
    with pytest.raises(NotFound):
        store.read_blob(REPO, layer)
    assert store.read_blob(OTHER, layer) == img.layers[0]


def test_a_finished_upload_belongs_to_its_repository_only(store: LocalImageRegistry) -> None:
    upload = store.start_upload(REPO)
    with store.append_to_upload(REPO, upload) as sink:
        sink.write(b"uploaded")
    digest = store.finish_upload(REPO, upload, sha(b"uploaded"))
    assert store.read_blob(REPO, digest) == b"uploaded"
    with pytest.raises(NotFound):
        store.read_blob(OTHER, digest)


def test_a_manifest_may_name_only_its_repositorys_blobs(store: LocalImageRegistry) -> None:
    img = image(b"theirs")
    store.push(OTHER, "v1", img)
    with pytest.raises(InvalidInput, match="unknown content") as refused:
        store.put_manifest(REPO, "v1", img.manifest())
    assert refused.value.details["field"] == "blob"
    assert store.exists(REPO, "v1") is False
    index = image(b"theirs")  # an image index naming another repository's manifest
    body = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": index.digest,
         "size": len(index.manifest())}]}).encode()  # fmt: skip
    with pytest.raises(InvalidInput, match="unknown content"):
        store.put_manifest(REPO, "list", body)
    assert store.put_manifest(OTHER, "list", body)  # fine where the manifest lives


def test_identical_content_in_two_repositories_is_stored_once(store: LocalImageRegistry) -> None:
    img = image(b"shared")
    assert store.push(REPO, "v1", img) == store.push(OTHER, "v1", img)
    assert len(stored_blob_files(store)) == 3  # config, layer, manifest: one copy each
    assert store.pull(REPO, "v1") == img == store.pull(OTHER, "v1")
    layer = sha(img.layers[0])
    assert store.read_blob(REPO, layer) == store.read_blob(OTHER, layer)


def test_a_store_without_memberships_derives_them_from_its_manifests(tmp_path: Path) -> None:
    img = image(b"pushed long ago")
    digest = make(tmp_path).push(REPO, "v1", img)
    repo_dir = tmp_path / "repositories" / "floww+ns1"
    shutil.rmtree(repo_dir / "blobs")  # as a store written before memberships left it
    (repo_dir / ".blobs-derived").unlink(missing_ok=True)
    again = make(tmp_path)
    assert again.pull(REPO, "v1") == img
    assert again.read_blob(REPO, sha(img.layers[0])) == img.layers[0]
    assert again.put_manifest(REPO, "v2", img.manifest()) == digest  # its blobs count as REPO's
    with pytest.raises(NotFound):
        again.read_blob(OTHER, sha(img.layers[0]))
    assert (repo_dir / ".blobs-derived").is_file()


# upload limits and the sweep -------------------------------------------------------------------


def test_an_upload_past_the_size_limit_is_discarded(tmp_path: Path) -> None:
    store = OciStore(tmp_path, max_upload_bytes=10)
    upload = store.start_upload(REPO)
    with store.append_to_upload(REPO, upload) as sink:
        sink.write(b"123456")
    with pytest.raises(PayloadTooLarge), store.append_to_upload(REPO, upload) as sink:
        sink.write(b"7890")  # exactly the limit is fine
        sink.write(b"!")
    with pytest.raises(NotFound):
        store.upload_size(REPO, upload)
    assert list((tmp_path / "uploads").iterdir()) == []
    with pytest.raises(InvalidInput):
        OciStore(tmp_path, max_upload_bytes=0)


def age(path: Path, seconds: float) -> None:
    """Make ``path`` (and a folder's files) look untouched for ``seconds``."""
    then = time.time() - seconds
    for item in [*path.iterdir(), path] if path.is_dir() else [path]:
        os.utime(item, (then, then))


def test_the_sweep_removes_stale_uploads_and_temporary_files(tmp_path: Path) -> None:
    store = OciStore(tmp_path)
    stale, fresh, busy = (store.start_upload(REPO) for _ in range(3))
    age(tmp_path / "uploads" / stale, 7200)
    age(tmp_path / "uploads" / busy, 7200)
    leftover = tmp_path / "tmp" / "crashed-write"
    leftover.write_bytes(b"half")
    age(leftover, 7200)
    with store.append_to_upload(REPO, busy):  # a request is writing it right now
        assert store.sweep_uploads(3600) == 1
    with pytest.raises(NotFound):
        store.upload_size(REPO, stale)
    assert store.upload_size(REPO, fresh) == 0 and store.upload_size(REPO, busy) == 0
    assert not leftover.exists()


def test_starting_an_upload_sweeps_at_most_once_per_interval(tmp_path: Path) -> None:
    now = [1000.0]
    store = OciStore(
        tmp_path, upload_max_age_seconds=3600, sweep_interval_seconds=60, clock=lambda: now[0]
    )
    first = store.start_upload(REPO)
    age(tmp_path / "uploads" / first, 7200)
    store.start_upload(REPO)  # the first start swept already; the next is not due yet
    assert store.upload_size(REPO, first) == 0
    now[0] += 61
    store.start_upload(REPO)
    with pytest.raises(NotFound):
        store.upload_size(REPO, first)


# push credentials ---------------------------------------------------------------------------


def test_push_credentials_cover_the_namespaces_own_repository_only(
    store: LocalImageRegistry,
) -> None:
    credentials = store.push_credentials("ns1", "floww/ns1")
    assert credentials.registry == "127.0.0.1:8000"
    assert credentials.username == "floww"
    assert credentials.password == f"token-ns1-{credentials.expires_in}"
    assert credentials.expires_in > 0
    with pytest.raises(PermissionDenied):
        store.push_credentials("ns2", "floww/ns1")
    with pytest.raises(PermissionDenied):
        store.push_credentials("ns1", "floww/ns1/sub")
    with pytest.raises(InvalidInput):
        store.push_credentials("ns1", "Floww/NS1")


def test_push_credentials_need_a_token_issuer(tmp_path: Path) -> None:
    with pytest.raises(Unavailable):
        make(tmp_path).push_credentials("ns1", "floww/ns1")


# the v2 client's error mapping ---------------------------------------------------------------


def _client(status: int, body: object = None) -> RegistryV2Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return RegistryV2Client("http://registry.test", http=http)


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "UNAUTHORIZED", Unauthenticated),
        (403, "DENIED", PermissionDenied),
        (404, "MANIFEST_UNKNOWN", NotFound),
        (400, "NAME_UNKNOWN", NotFound),
        (400, "TAG_INVALID", InvalidInput),
        (500, "", Unavailable),
        (429, "TOOMANYREQUESTS", Unavailable),
    ],
)
def test_client_maps_registry_answers_to_domain_errors(
    status: int, code: str, error: type[Exception]
) -> None:
    body = {"errors": [{"code": code, "message": "nope"}]}
    with pytest.raises(error):
        _client(status, body).resolve(REPO, "v1")


def test_client_exists_is_false_on_404_and_names_unreachable_registries() -> None:
    assert _client(404).exists(REPO, "v1") is False

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = RegistryV2Client(
        "http://registry.test", http=httpx.Client(transport=httpx.MockTransport(refuse))
    )
    with pytest.raises(Unavailable, match=r"registry\.test"):
        client.exists(REPO, "v1")


def test_client_rejects_bad_names_before_asking() -> None:
    client = _client(500)
    with pytest.raises(InvalidInput):
        client.push("Not A Repo", "v1", image())
    with pytest.raises(InvalidInput):
        client.pull(REPO, "sha256:zz")
    with pytest.raises(PermissionDenied, match="floww server"):
        client.push_credentials("ns1", REPO)
