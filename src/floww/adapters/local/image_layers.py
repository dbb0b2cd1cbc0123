"""Image references and image layers: ``repo:tag`` / ``repo@digest`` parsing, and unpacking
OCI layers (tar or tar.gz, applied in order with whiteouts) into a directory without letting
any entry land outside it: absolute paths, ``..``, links pointing out and devices are refused.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path

from floww.domain.errors import InvalidInput

__all__ = ["UnsafeImage", "parse_image_ref", "unpack_layers"]

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


class UnsafeImage(Exception):
    """An image layer that cannot be unpacked safely; the message is one sentence."""


def parse_image_ref(image_ref: str) -> tuple[str, str]:
    """``(repository, tag or digest)`` of ``repo:tag`` or ``repo@sha256:...`` (tag defaults to
    ``latest``); ``InvalidInput`` for an empty reference."""
    ref = image_ref.strip()
    if "@" in ref:
        repository, _, reference = ref.partition("@")
    else:
        head, colon, tail = ref.rpartition(":")
        repository, reference = (head, tail) if colon and "/" not in tail else (ref, "latest")
    if not repository or not reference:
        raise InvalidInput(f"invalid image reference {image_ref!r}")
    return repository, reference


def unpack_layers(layers: Sequence[bytes], root: Path) -> None:
    """Unpack tar(.gz) ``layers`` in order into ``root``, atomically: into a directory beside
    it, renamed into place when complete. ``root`` already present (a concurrent unpack of the
    same image won) is fine. ``UnsafeImage`` for an entry that would escape ``root``, a
    device or an archive that cannot be read; nothing is left behind then."""
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.parent / f".unpack-{root.name}-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        for number, layer in enumerate(layers, start=1):
            _unpack_layer(layer, staging, number)
        _owner_only(staging)
        try:
            os.rename(staging, root)
        except OSError:
            if not root.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _owner_only(root: Path) -> None:
    """Take the group and other bits off what the layers unpacked: the floww home is its
    owner's only."""
    for folder, _dirs, files in os.walk(root):
        base = Path(folder)
        base.chmod(0o700)
        for name in files:
            path = base / name
            if not path.is_symlink():
                path.chmod(path.lstat().st_mode & 0o700)


def _unpack_layer(layer: bytes, dest: Path, number: int) -> None:
    try:
        with tarfile.open(fileobj=io.BytesIO(layer), mode="r:*") as archive:
            members = archive.getmembers()
            for member in members:
                _check_member(member, number)
            regular = []
            for member in members:
                parent, _, base = member.name.rstrip("/").rpartition("/")
                if base == _OPAQUE:
                    _clear(dest, dest / parent)
                elif base.startswith(_WHITEOUT):
                    _remove(dest, dest / parent / base.removeprefix(_WHITEOUT))
                else:
                    regular.append(member)
            archive.extractall(dest, members=regular, filter="data")
    except UnsafeImage:
        raise
    except tarfile.FilterError as exc:
        raise UnsafeImage(
            f"layer {number} of the image has an entry that leads outside the image root: "
            f"{exc.tarinfo.name!r}"
        ) from exc
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise UnsafeImage(f"layer {number} of the image is not a readable tar archive") from exc


def _check_member(member: tarfile.TarInfo, number: int) -> None:
    name = member.name
    where = f"layer {number} of the image"
    if name.startswith("/") or _escapes(name):
        raise UnsafeImage(f"{where} has an entry outside the image root: {name!r}")
    if member.isdev():
        raise UnsafeImage(f"{where} has a device file: {name!r}")
    if member.issym():
        target = member.linkname
        joined = posixpath.join(posixpath.dirname(name), target)
        if target.startswith("/") or _escapes(joined):
            raise UnsafeImage(f"{where} has a link pointing outside the image root: {name!r}")
    if member.islnk() and (member.linkname.startswith("/") or _escapes(member.linkname)):
        raise UnsafeImage(f"{where} has a link pointing outside the image root: {name!r}")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeImage(f"{where} has an entry of an unsupported kind: {name!r}")


def _escapes(name: str) -> bool:
    normal = posixpath.normpath(name)
    return normal == ".." or normal.startswith("../")


def _clear(dest: Path, directory: Path) -> None:
    if _inside(dest, directory) and directory.is_dir() and not directory.is_symlink():
        for child in directory.iterdir():
            _remove(dest, child)


def _remove(dest: Path, path: Path) -> None:
    if not _inside(dest, path.parent):
        raise UnsafeImage(f"a whiteout in the image leads outside the image root: {path.name!r}")
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _inside(dest: Path, path: Path) -> bool:
    base, real = os.path.realpath(dest), os.path.realpath(path)
    return real == base or real.startswith(base + os.sep)
