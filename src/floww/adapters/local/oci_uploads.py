"""Resumable blob uploads for the on-disk OCI store.

An upload lives in ``uploads/<id>/`` under the store's root: ``data`` holds the bytes received
so far and ``repository`` names the repository it was started for, so an upload id never
reaches another repository's upload. An upload holds at most ``max_upload_bytes``; a write
past that discards it. Uploads, and the store's temporary files, left untouched for
``upload_max_age_seconds`` are swept away, at most once per ``sweep_interval_seconds``, when an
upload starts, or whenever ``sweep_uploads`` is called.

Errors: ``InvalidInput`` for a malformed repository name or digest, a digest that does not
match the content, or a non-positive ``max_upload_bytes``; ``PayloadTooLarge`` for an
oversized upload; ``NotFound`` (kind ``upload``) for an upload that is not in progress for the
repository asked about; ``Conflict`` for a chunk that does not continue an upload where it
stands, or an upload another request is writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from floww.domain.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from floww.domain.oci import check_digest, check_repository

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_SWEEP_INTERVAL_SECONDS",
    "DEFAULT_UPLOAD_MAX_AGE_SECONDS",
    "OciUploads",
    "UploadSink",
]

DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3
DEFAULT_UPLOAD_MAX_AGE_SECONDS = 24 * 3600
DEFAULT_SWEEP_INTERVAL_SECONDS = 60.0
_UPLOAD_ID = re.compile(r"^[a-f0-9]{32}$")
_COPY_CHUNK = 1024 * 1024


class UploadSink:
    """Appends to an upload; a write that would take it past ``limit`` bytes raises
    ``PayloadTooLarge`` (and the store then discards the upload)."""

    def __init__(self, handle: IO[bytes], size: int, limit: int) -> None:
        self._handle = handle
        self.size = size
        self.limit = limit

    def write(self, data: bytes) -> int:
        if self.size + len(data) > self.limit:
            raise PayloadTooLarge(self.size + len(data), self.limit)
        written = self._handle.write(data)
        self.size += written
        return written


class OciUploads:
    """The upload half of ``OciStore``, which inherits it: the store sets ``root``, calls
    ``_init_uploads`` from its constructor and provides ``_commit_blob`` and ``_link``."""

    root: Path

    def _init_uploads(
        self,
        *,
        max_upload_bytes: int,
        upload_max_age_seconds: float,
        sweep_interval_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        """Take the upload settings; ``InvalidInput`` when ``max_upload_bytes`` is not
        positive."""
        if max_upload_bytes <= 0:
            raise InvalidInput("max_upload_bytes must be positive", field="max_upload_bytes")
        self.max_upload_bytes = max_upload_bytes
        self.upload_max_age_seconds = upload_max_age_seconds
        self._sweep_interval = sweep_interval_seconds
        self._clock = clock
        self._next_sweep: float | None = None
        self._sweep_guard = threading.Lock()

    def _commit_blob(self, source: Path, hasher: Any, digest: str | None) -> str:
        """Move ``source`` into the blob store (provided by the store)."""
        raise NotImplementedError

    def _link(self, repository: str, digest: str) -> None:
        """Make ``digest`` a blob of ``repository`` (provided by the store)."""
        raise NotImplementedError

    def start_upload(self, repository: str) -> str:
        """A new upload to ``repository``; sweeps stale uploads first when one is due."""
        check_repository(repository)
        self._sweep_if_due()
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
    ) -> Iterator[UploadSink]:
        """A sink that appends to the upload. ``start``, when the client states it, must be
        the upload's current size; one writer at a time (``Conflict`` otherwise). Writing past
        ``max_upload_bytes`` raises ``PayloadTooLarge`` and discards the upload."""
        folder = self._upload_folder(repository, upload_id)
        with (folder / "data").open("ab") as handle:
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
            try:
                yield UploadSink(handle, size, self.max_upload_bytes)
            except PayloadTooLarge:
                shutil.rmtree(folder, ignore_errors=True)
                raise

    def finish_upload(self, repository: str, upload_id: str, digest: str) -> str:
        """Move the completed upload into the blob store after checking its digest, and make
        it a blob of ``repository``; the upload is gone afterwards, whether or not the digest
        matched."""
        check_digest(digest)
        folder = self._upload_folder(repository, upload_id)
        try:
            hasher = hashlib.sha256()
            with (folder / "data").open("rb") as handle:
                while chunk := handle.read(_COPY_CHUNK):
                    hasher.update(chunk)
            stored = self._commit_blob(folder / "data", hasher, digest)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self._link(repository, stored)
        return stored

    def cancel_upload(self, repository: str, upload_id: str) -> None:
        shutil.rmtree(self._upload_folder(repository, upload_id), ignore_errors=True)

    def sweep_uploads(self, older_than_seconds: float) -> int:
        """Remove uploads, and temporary files, untouched for ``older_than_seconds``; an upload
        being written right now is left alone. Returns how many uploads were removed."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for folder in (self.root / "uploads").iterdir():
            if _last_change(folder) < cutoff and _remove_idle_upload(folder):
                removed += 1
        for temp in (self.root / "tmp").iterdir():
            if _last_change(temp) < cutoff:
                temp.unlink(missing_ok=True)
        return removed

    def _sweep_if_due(self) -> None:
        now = self._clock()
        with self._sweep_guard:
            if self._next_sweep is not None and now < self._next_sweep:
                return
            self._next_sweep = now + self._sweep_interval
        self.sweep_uploads(self.upload_max_age_seconds)

    def _upload_folder(self, repository: str, upload_id: str) -> Path:
        folder = self.root / "uploads" / upload_id
        try:
            owner = (folder / "repository").read_text() if _UPLOAD_ID.match(upload_id) else None
        except FileNotFoundError:
            owner = None
        if owner != repository:
            raise NotFound("upload", upload_id)
        return folder


def _last_change(path: Path) -> float:
    """The latest modification time of ``path`` and, for a folder, its files; ``inf`` when it
    is gone (so it is never taken for stale)."""
    try:
        times = [path.stat().st_mtime]
        if path.is_dir():
            times += [child.stat().st_mtime for child in path.iterdir()]
    except FileNotFoundError:
        return float("inf")
    return max(times)


def _remove_idle_upload(folder: Path) -> bool:
    try:
        with (folder / "data").open("rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(folder, ignore_errors=True)
    except BlockingIOError:
        return False  # a request is writing it right now
    except FileNotFoundError:
        shutil.rmtree(folder, ignore_errors=True)
    return True
