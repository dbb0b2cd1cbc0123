"""Code bundles on disk: read a project into a bundle, and write a bundle into a cache dir.

A materialised bundle lives in ``<cache root>/<hex digest>/``; the cache root defaults to
``<tempdir>/floww-code``. Content addressing makes a present directory trustworthy, so it is
reused; a new one is written beside it and renamed into place, so readers never see half of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path, PurePosixPath

from floww.domain.errors import UserCodeError
from floww.domain.model import CodeBundle

__all__ = [
    "SKIPPED_DIRECTORIES",
    "bundle_from_directory",
    "default_cache_root",
    "materialize",
]

SKIPPED_DIRECTORIES = frozenset({".venv", "venv", ".git", "__pycache__", "node_modules"})


def default_cache_root() -> Path:
    return Path(tempfile.gettempdir()) / "floww-code"


def bundle_from_directory(root: Path, entrypoint: str) -> CodeBundle:
    """The bundle of the project at ``root``: its ``*.py`` files (and ``requirements.txt``),
    skipping virtualenvs, VCS data, caches and dot-directories. ``UserCodeError`` when the
    entrypoint is not among them."""
    files: dict[str, str] = {}
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(
            d for d in subdirs if d not in SKIPPED_DIRECTORIES and not d.startswith(".")
        )
        for name in names:
            path = Path(directory) / name
            relative = path.relative_to(root).as_posix()
            if name.endswith(".py") or relative == "requirements.txt":
                files[relative] = path.read_text(encoding="utf-8")
    entry = PurePosixPath(entrypoint).as_posix()
    if entry not in files:
        raise UserCodeError(f"entrypoint {entry} not found in {root}", filename=entry)
    return CodeBundle(entrypoint=entry, files=dict(sorted(files.items())))


def materialize(code: CodeBundle, cache_root: Path | None = None) -> Path:
    """The directory holding ``code``'s files, written now unless present already."""
    root = cache_root or default_cache_root()
    target = root / code.digest.removeprefix("sha256:")
    if target.is_dir():
        return target
    for name in code.files:
        _check_relative(name)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{target.name}-{uuid.uuid4().hex}"
    try:
        for name, text in code.files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.mkdir(exist_ok=True)
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():  # lost a race to a writer of the same content: fine
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _check_relative(name: str) -> None:
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or ".." in path.parts
        or "\\" in name
        or name != path.as_posix()
    ):
        raise UserCodeError(f"invalid file path {name!r} in the code bundle")
