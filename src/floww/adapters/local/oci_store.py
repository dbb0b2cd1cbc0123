"""A content-addressed OCI image store on disk, safe for concurrent writers.

Layout under ``root``::

    blobs/sha256/<hex>                 every blob and every manifest, named by its digest
    repositories/<name>/index.json     an OCI image index per repository: one entry per tag
                                       (``org.opencontainers.image.ref.name``) and one
                                       unannotated entry per manifest no tag points at
    uploads/<id>/data, .../repository  resumable blob uploads in progress
    tmp/                               files being written, renamed into place when complete

A repository name may contain ``/``; on disk it is one directory with ``/`` written as ``+``
(a character names may not contain), so no name can shadow another's files.

Every write goes to a temporary file first and is renamed into place, so readers never see a
partial blob or index. A blob is stored only after its content hashes to its digest. Index
updates take a per-repository lock (a thread lock plus ``flock``), so concurrent pushes, in
threads or processes, never lose a tag.

Errors: ``InvalidInput`` for a malformed repository name, tag, digest or manifest, a digest
that does not match the content, or a manifest naming blobs the store lacks (``field`` in its
details says which: ``name``, ``tag``, ``digest``, ``manifest``, ``blob``); ``PayloadTooLarge``
for an oversized manifest; ``NotFound`` (kind ``blob``, ``manifest``, ``repository``,
``upload``) for what is not stored; ``Conflict`` for a chunk that does not continue an upload
where it stands.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from floww.domain.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from floww.domain.oci import (
    MANIFEST_MEDIA_TYPE,
    check_digest,
    check_repository,
    check_tag,
    valid_digest,
)

__all__ = [
    "INDEX_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPES",
    "MAX_MANIFEST_BYTES",
    "OciStore",
    "StoredManifest",
    "check_digest",
    "check_repository",
    "check_tag",
    "is_digest",
]

_UPLOAD_ID = re.compile(r"^[a-f0-9]{32}$")

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_MEDIA_TYPES = (
    MANIFEST_MEDIA_TYPE,
    INDEX_MEDIA_TYPE,
    DOCKER_MANIFEST_MEDIA_TYPE,
    DOCKER_LIST_MEDIA_TYPE,
)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_REF_NAME = "org.opencontainers.image.ref.name"
_COPY_CHUNK = 1024 * 1024


def is_digest(reference: str) -> bool:
    return ":" in reference


@attrs.frozen
class StoredManifest:
    digest: str
    media_type: str
    body: bytes = attrs.field(repr=False)


class OciStore:
    """The store's own operations, used by the registry adapter and the ``/v2/`` endpoint."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("blobs/sha256", "repositories", "uploads", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._locks_guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    # blobs -----------------------------------------------------------------------------------

    def blob_exists(self, digest: str) -> bool:
        return valid_digest(digest) and self._blob_path(digest).is_file()

    def blob_size(self, digest: str) -> int:
        try:
            return self._blob_path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound("blob", digest) from exc

    def open_blob(self, digest: str) -> IO[bytes]:
        """The blob for reading; the caller closes it."""
        try:
            return self._blob_path(digest).open("rb")
        except FileNotFoundError as exc:
            raise NotFound("blob", digest) from exc

    def read_blob(self, digest: str) -> bytes:
        """The whole blob, re-hashed: a blob damaged on disk is reported, never returned."""
        with self.open_blob(digest) as handle:
            data = handle.read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise InvalidInput(f"stored blob {digest} is corrupt", field="blob")
        return data

    def put_blob(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data``; when ``digest`` is given the content must hash to it."""
        return self.write_blob([data], digest)

    def write_blob(self, chunks: Iterable[bytes], digest: str | None = None) -> str:
        """Store streamed content; return its digest."""
        if digest is not None:
            check_digest(digest)
        hasher = hashlib.sha256()
        with self._temp_file() as (handle, temp):
            for chunk in chunks:
                hasher.update(chunk)
                handle.write(chunk)
            handle.close()
            return self._commit_blob(temp, hasher, digest)

    # resumable uploads ------------------------------------------------------------------------

    def start_upload(self, repository: str) -> str:
        check_repository(repository)
        upload_id = uuid.uuid4().hex
        folder = self.root / "uploads" / upload_id
        folder.mkdir()
        (folder / "data").touch()
        (folder / "repository").write_text(repository)
        return upload_id

    def upload_size(self, repository: str, upload_id: str) -> int:
        return (self._upload_folder(repository, upload_id) / "data").stat().st_size

    @contextlib.contextmanager
    def append_to_upload(
        self, repository: str, upload_id: str, *, start: int | None = None
    ) -> Iterator[IO[bytes]]:
        """A handle that appends to the upload. ``start``, when the client states it, must be
        the upload's current size; one writer at a time (``Conflict`` otherwise)."""
        data = self._upload_folder(repository, upload_id) / "data"
        with data.open("ab") as handle:
            try:
                # Never wait: a writer blocked here could stall the server's event loop.
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise Conflict("the upload is being written by another request") from exc
            size = handle.seek(0, os.SEEK_END)
            if start is not None and start != size:
                raise Conflict(
                    f"chunk starts at {start} but the upload holds {size} bytes", size=size
                )
            yield handle

    def finish_upload(self, repository: str, upload_id: str, digest: str) -> str:
        """Move the completed upload into the blob store after checking its digest; the upload
        is gone afterwards, whether or not the digest matched."""
        check_digest(digest)
        folder = self._upload_folder(repository, upload_id)
        try:
            hasher = hashlib.sha256()
            with (folder / "data").open("rb") as handle:
                while chunk := handle.read(_COPY_CHUNK):
                    hasher.update(chunk)
            return self._commit_blob(folder / "data", hasher, digest)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def cancel_upload(self, repository: str, upload_id: str) -> None:
        shutil.rmtree(self._upload_folder(repository, upload_id), ignore_errors=True)

    # manifests and tags -----------------------------------------------------------------------

    def put_manifest(
        self, repository: str, reference: str, body: bytes, media_type: str | None = None
    ) -> str:
        """Store a manifest under a tag or its own digest; every blob (and, for an index, every
        manifest) it names must be stored already. Returns the manifest digest."""
        check_repository(repository)
        if len(body) > MAX_MANIFEST_BYTES:
            raise PayloadTooLarge(len(body), MAX_MANIFEST_BYTES)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if is_digest(reference):
            check_digest(reference)
            if reference != digest:
                raise InvalidInput(f"manifest hashes to {digest}, not {reference}", field="digest")
        else:
            check_tag(reference)
        media_type = self._check_manifest(body, media_type)
        self.put_blob(body, digest)
        with self._repository_lock(repository):
            entries = self._read_index(repository)
            entries = _with_manifest(entries, digest, media_type, len(body), reference)
            self._write_index(repository, entries)
        return digest

    def get_manifest(self, repository: str, reference: str) -> StoredManifest:
        """The manifest a tag points at, or one pushed to this repository, by digest."""
        entry = self._find(repository, reference)
        digest = str(entry["digest"])
        try:
            body = self.read_blob(digest)
        except NotFound as exc:
            raise NotFound("manifest", f"{repository}@{digest}") from exc
        return StoredManifest(digest=digest, media_type=str(entry["mediaType"]), body=body)

    def manifest_digest(self, repository: str, reference: str) -> str:
        return str(self._find(repository, reference)["digest"])

    def tag_list(self, repository: str) -> list[str]:
        entries = self._read_index(repository)
        if not entries:
            raise NotFound("repository", repository)
        return sorted({tag for entry in entries if (tag := _tag_of(entry)) is not None})

    # internals --------------------------------------------------------------------------------

    def _find(self, repository: str, reference: str) -> dict[str, Any]:
        check_repository(repository)
        entries = self._read_index(repository)
        if not entries:
            raise NotFound("repository", repository)
        if is_digest(reference):
            check_digest(reference)
            matches = [e for e in entries if e.get("digest") == reference]
            key = f"{repository}@{reference}"
        else:
            check_tag(reference)
            matches = [e for e in entries if _tag_of(e) == reference]
            key = f"{repository}:{reference}"
        if not matches:
            raise NotFound("manifest", key)
        return matches[0]

    def _check_manifest(self, body: bytes, media_type: str | None) -> str:
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise InvalidInput("manifest is not JSON", field="manifest") from exc
        if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
            raise InvalidInput("manifest must be a schemaVersion 2 object", field="manifest")
        declared = doc.get("mediaType")
        kind = declared if isinstance(declared, str) else media_type
        if kind is None:
            kind = INDEX_MEDIA_TYPE if "manifests" in doc else MANIFEST_MEDIA_TYPE
        if kind not in MANIFEST_MEDIA_TYPES:
            raise InvalidInput(f"unsupported manifest media type {kind!r}", field="manifest")
        if "manifests" in doc:
            references = doc.get("manifests")
        else:
            references = [doc.get("config"), *(doc.get("layers") or [])]
        if not isinstance(references, list):
            raise InvalidInput("manifest references must be a list", field="manifest")
        for ref in references:
            digest = ref.get("digest") if isinstance(ref, dict) else None
            if not isinstance(digest, str) or not valid_digest(digest):
                raise InvalidInput(f"manifest names an invalid digest {digest!r}", field="digest")
            if not self.blob_exists(digest):
                raise InvalidInput(f"manifest names unknown content {digest}", field="blob")
        return kind

    def _commit_blob(self, source: Path, hasher: Any, digest: str | None) -> str:
        actual = "sha256:" + str(hasher.hexdigest())
        if digest is not None and actual != digest:
            raise InvalidInput(f"content hashes to {actual}, not {digest}", field="digest")
        target = self._blob_path(actual)
        if not target.exists():
            os.replace(source, target)
        return actual

    @contextlib.contextmanager
    def _temp_file(self) -> Iterator[tuple[IO[bytes], Path]]:
        fd, name = tempfile.mkstemp(dir=self.root / "tmp")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle, path
        finally:
            path.unlink(missing_ok=True)

    def _blob_path(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def _upload_folder(self, repository: str, upload_id: str) -> Path:
        folder = self.root / "uploads" / upload_id
        try:
            owner = (folder / "repository").read_text() if _UPLOAD_ID.match(upload_id) else None
        except FileNotFoundError:
            owner = None
        if owner != repository:
            raise NotFound("upload", upload_id)
        return folder

    def _repository_dir(self, repository: str) -> Path:
        check_repository(repository)
        return self.root / "repositories" / repository.replace("/", "+")

    def _read_index(self, repository: str) -> list[dict[str, Any]]:
        try:
            doc = json.loads((self._repository_dir(repository) / "index.json").read_bytes())
        except FileNotFoundError:
            return []
        return list(doc.get("manifests", []))

    def _write_index(self, repository: str, entries: list[dict[str, Any]]) -> None:
        doc = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": entries}
        folder = self._repository_dir(repository)
        with self._temp_file() as (handle, temp):
            handle.write(json.dumps(doc, indent=1, sort_keys=True).encode())
            handle.close()
            os.replace(temp, folder / "index.json")

    @contextlib.contextmanager
    def _repository_lock(self, repository: str) -> Iterator[None]:
        folder = self._repository_dir(repository)
        folder.mkdir(exist_ok=True)
        with self._locks_guard:
            lock = self._locks.setdefault(repository, threading.Lock())
        with lock, (folder / ".lock").open("a") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            yield


def _tag_of(entry: dict[str, Any]) -> str | None:
    tag = (entry.get("annotations") or {}).get(_REF_NAME)
    return tag if isinstance(tag, str) else None


def _with_manifest(
    entries: list[dict[str, Any]], digest: str, media_type: str, size: int, reference: str
) -> list[dict[str, Any]]:
    """The index after storing ``digest`` under ``reference``: a tag moves, and a manifest that
    loses its last tag stays listed (unannotated) so it can still be pulled by digest."""
    tag = None if is_digest(reference) else reference
    kept = [e for e in entries if tag is None or _tag_of(e) != tag]
    new = {"mediaType": media_type, "digest": digest, "size": size}
    if tag is not None:
        new["annotations"] = {_REF_NAME: tag}
    kept.append(new)
    tagged = {str(e["digest"]) for e in kept if _tag_of(e) is not None}
    result: list[dict[str, Any]] = []
    seen_untagged: set[str] = set()
    for entry in kept:
        entry_digest = str(entry["digest"])
        if _tag_of(entry) is None:
            if entry_digest in tagged or entry_digest in seen_untagged:
                continue
            seen_untagged.add(entry_digest)
        result.append(entry)
    for entry in entries:  # manifests that just lost their tag
        entry_digest = str(entry["digest"])
        if entry_digest not in tagged and entry_digest not in seen_untagged:
            seen_untagged.add(entry_digest)
            result.append({k: v for k, v in entry.items() if k != "annotations"})
    return result
