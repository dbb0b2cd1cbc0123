"""A content-addressed OCI image store on disk, safe for concurrent writers.

Layout under ``root``::

    blobs/sha256/<hex>                 every blob and every manifest, named by its digest
    repositories/<name>/index.json     an OCI image index per repository: one entry per tag
                                       (``org.opencontainers.image.ref.name``) and one
                                       unannotated entry per manifest no tag points at
    repositories/<name>/blobs/<hex>    an empty file per blob the repository may serve
    uploads/<id>/data, .../repository  resumable blob uploads in progress
    tmp/                               files being written, renamed into place when complete

A repository name may contain ``/``; on disk it is one directory with ``/`` written as ``+``
(a character names may not contain), so no name can shadow another's files.

Blobs are stored once per digest, but each is served only through the repositories it belongs
to: one it was uploaded or pushed to, or one whose manifests name it. A manifest is accepted
only when every blob it names belongs to its repository, so knowing a digest never reveals
another repository's content. A store written before memberships existed gets them derived
from each repository's manifests the first time that repository is consulted.

An upload may hold at most ``max_upload_bytes``; a write past that discards it. Uploads (and
temporary files) left untouched for ``upload_max_age_seconds`` are swept away, at most once
per ``sweep_interval_seconds``, when an upload starts, or whenever ``sweep_uploads`` is called.
The upload operations live in ``oci_uploads`` (``OciUploads``, which ``OciStore`` inherits).

Every write goes to a temporary file first and is renamed into place, so readers never see a
partial blob or index. A blob is stored only after its content hashes to its digest. Index
updates take a per-repository lock (a thread lock plus ``flock``), so concurrent pushes, in
threads or processes, never lose a tag.

Errors: ``InvalidInput`` for a malformed repository name, tag, digest or manifest, a digest
that does not match the content, or a manifest naming blobs its repository lacks (``field`` in its
details says which: ``name``, ``tag``, ``digest``, ``manifest``, ``blob``); ``PayloadTooLarge``
for an oversized manifest or upload; ``NotFound`` (kind ``blob``, ``manifest``, ``repository``,
``upload``) for what is not stored, or not in the repository asked about; ``Conflict`` for a
chunk that does not continue an upload where it stands.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from floww.adapters.local.oci_uploads import (
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_SWEEP_INTERVAL_SECONDS,
    DEFAULT_UPLOAD_MAX_AGE_SECONDS,
    OciUploads,
    UploadSink,
)
from floww.domain.errors import InvalidInput, NotFound, PayloadTooLarge
from floww.domain.oci import (
    MANIFEST_MEDIA_TYPE,
    check_digest,
    check_repository,
    check_tag,
    valid_digest,
)
from floww.ports.registry_storage import RegistryStorage, StoredManifest

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_UPLOAD_MAX_AGE_SECONDS",
    "INDEX_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPES",
    "MAX_MANIFEST_BYTES",
    "OciStore",
    "StoredManifest",
    "UploadSink",
    "check_digest",
    "check_repository",
    "check_tag",
    "is_digest",
]

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
_DERIVED = ".blobs-derived"  # marks a repository whose memberships were derived from its index


def is_digest(reference: str) -> bool:
    return ":" in reference


class OciStore(OciUploads, RegistryStorage):
    """The store's own operations, used by the registry adapter and the ``/v2/`` endpoint.

    ``max_upload_bytes`` caps one upload; ``upload_max_age_seconds`` is how long an untouched
    upload survives; ``clock`` (monotonic seconds) paces the sweeps ``start_upload`` runs."""

    max_manifest_bytes = MAX_MANIFEST_BYTES

    def __init__(
        self,
        root: Path,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        upload_max_age_seconds: float = DEFAULT_UPLOAD_MAX_AGE_SECONDS,
        sweep_interval_seconds: float = DEFAULT_SWEEP_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._init_uploads(
            max_upload_bytes=max_upload_bytes,
            upload_max_age_seconds=upload_max_age_seconds,
            sweep_interval_seconds=sweep_interval_seconds,
            clock=clock,
        )
        self.root = Path(root)
        for sub in ("blobs/sha256", "repositories", "uploads", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._locks_guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._derived: set[str] = set()

    # blobs -----------------------------------------------------------------------------------

    def blob_exists(self, digest: str) -> bool:
        """Whether the content is stored at all; not whether any repository may serve it."""
        return valid_digest(digest) and self._blob_path(digest).is_file()

    def repository_has_blob(self, repository: str, digest: str) -> bool:
        """Whether the blob is stored and belongs to ``repository``."""
        check_repository(repository)
        check_digest(digest)
        self._derive_members(repository)
        return self._member_path(repository, digest).is_file() and self.blob_exists(digest)

    def blob_size(self, repository: str, digest: str) -> int:
        self._check_member(repository, digest)
        try:
            return self._blob_path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound("blob", digest) from exc

    def open_blob(self, repository: str, digest: str) -> IO[bytes]:
        """The blob for reading, if it belongs to ``repository``; the caller closes it."""
        self._check_member(repository, digest)
        return self._open_stored(digest)

    def read_blob(self, repository: str, digest: str) -> bytes:
        """The whole blob, re-hashed: a blob damaged on disk is reported, never returned."""
        self._check_member(repository, digest)
        return self._read_stored(digest)

    def put_blob(
        self, data: bytes, digest: str | None = None, *, repository: str | None = None
    ) -> str:
        """Store ``data`` (in ``repository`` when given); when ``digest`` is given the content
        must hash to it."""
        return self.write_blob([data], digest, repository=repository)

    def write_blob(
        self, chunks: Iterable[bytes], digest: str | None = None, *, repository: str | None = None
    ) -> str:
        """Store streamed content (in ``repository`` when given); return its digest."""
        if digest is not None:
            check_digest(digest)
        if repository is not None:
            check_repository(repository)
        hasher = hashlib.sha256()
        with self._temp_file() as (handle, temp):
            for chunk in chunks:
                hasher.update(chunk)
                handle.write(chunk)
            handle.close()
            stored = self._commit_blob(temp, hasher, digest)
        if repository is not None:
            self._link(repository, stored)
        return stored

    # manifests and tags -----------------------------------------------------------------------

    def put_manifest(
        self, repository: str, reference: str, body: bytes, media_type: str | None = None
    ) -> str:
        """Store a manifest under a tag or its own digest; every blob (and, for an index, every
        manifest) it names must belong to ``repository`` already. Returns the manifest digest."""
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
        media_type = self._check_manifest(repository, body, media_type)
        self.put_blob(body, digest, repository=repository)
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
            body = self._read_stored(digest)
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

    def _check_manifest(self, repository: str, body: bytes, media_type: str | None) -> str:
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
        references = _references(doc)
        if references is None:
            raise InvalidInput("manifest references must be a list", field="manifest")
        for digest in references:
            if not isinstance(digest, str) or not valid_digest(digest):
                raise InvalidInput(f"manifest names an invalid digest {digest!r}", field="digest")
            if not self.repository_has_blob(repository, digest):
                raise InvalidInput(
                    f"manifest names unknown content {digest} (not in {repository})", field="blob"
                )
        return kind

    def _check_member(self, repository: str, digest: str) -> None:
        if not self.repository_has_blob(repository, digest):
            raise NotFound("blob", digest)

    def _link(self, repository: str, digest: str) -> None:
        members = self._repository_dir(repository) / "blobs"
        members.mkdir(parents=True, exist_ok=True)
        (members / digest.removeprefix("sha256:")).touch()

    def _member_path(self, repository: str, digest: str) -> Path:
        return self._repository_dir(repository) / "blobs" / digest.removeprefix("sha256:")

    def _derive_members(self, repository: str) -> None:
        """Give a repository written before memberships existed the blobs its manifests name."""
        if repository in self._derived:
            return
        folder = self._repository_dir(repository)
        if not (folder / "index.json").is_file():
            return  # nothing pushed yet: nothing to derive
        if not (folder / _DERIVED).is_file():
            with self._repository_lock(repository):
                if not (folder / _DERIVED).is_file():
                    for entry in self._read_index(repository):
                        for digest in self._named_by(str(entry.get("digest", ""))):
                            self._link(repository, digest)
                    (folder / _DERIVED).touch()
        self._derived.add(repository)

    def _named_by(self, manifest_digest: str) -> list[str]:
        """The manifest's own digest and every well-formed digest it names."""
        if not valid_digest(manifest_digest):
            return []
        try:
            references = _references(json.loads(self._read_stored(manifest_digest))) or []
        except (NotFound, InvalidInput, ValueError):
            references = []
        named = [d for d in references if isinstance(d, str) and valid_digest(d)]
        return [manifest_digest, *named]

    def _open_stored(self, digest: str) -> IO[bytes]:
        try:
            return self._blob_path(digest).open("rb")
        except FileNotFoundError as exc:
            raise NotFound("blob", digest) from exc

    def _read_stored(self, digest: str) -> bytes:
        with self._open_stored(digest) as handle:
            data = handle.read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise InvalidInput(f"stored blob {digest} is corrupt", field="blob")
        return data

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


def _references(doc: object) -> list[object] | None:
    """The digests a manifest (or image index) names; None when it names them malformedly."""
    if not isinstance(doc, dict):
        return None
    if "manifests" in doc:
        refs = doc.get("manifests")
    else:
        layers = doc.get("layers") or []
        refs = [doc.get("config"), *layers] if isinstance(layers, list) else None
    if not isinstance(refs, list):
        return None
    return [ref.get("digest") if isinstance(ref, dict) else None for ref in refs]


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
