"""floww's own wheel, written from the installed package so a runtime never fetches floww from
a package index.

The wheel holds every file of the ``floww`` package directory (found through ``floww.__file__``,
so an editable install works too) except bytecode, plus a ``floww-<version>.dist-info`` with
``METADATA``, ``WHEEL`` and ``RECORD``. ``METADATA`` lists only the distribution's runtime
requirements (those without an ``extra`` marker): server extras are never installed into a
runtime. Bytes are deterministic for a given package tree: entries are sorted and carry a fixed
timestamp and mode.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

__all__ = ["FlowwWheel", "build_floww_wheel", "runtime_requirements"]

DISTRIBUTION = "floww"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIPPED_DIRS = frozenset({"__pycache__"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_EXTRA_MARKER = re.compile(r"\bextra\s*==")


@attrs.frozen
class FlowwWheel:
    """A built wheel. ``content_digest`` is the sha256 of its ``RECORD`` (which hashes every
    file), so it names the content independently of how zlib compressed it."""

    filename: str
    data: bytes = attrs.field(repr=False)
    version: str
    content_digest: str

    def write(self, directory: Path) -> Path:
        """Write the wheel into ``directory`` under its canonical file name."""
        path = directory / self.filename
        path.write_bytes(self.data)
        return path


def runtime_requirements(requires: Iterable[str]) -> list[str]:
    """The requirements a runtime needs: those whose marker does not name an ``extra``,
    de-duplicated, in their original order."""
    kept: list[str] = []
    for requirement in requires:
        _, _, marker = requirement.partition(";")
        if _EXTRA_MARKER.search(marker):
            continue
        cleaned = requirement.strip()
        if cleaned and cleaned not in kept:
            kept.append(cleaned)
    return kept


def build_floww_wheel(
    package_dir: Path | None = None,
    *,
    version: str | None = None,
    requires: Sequence[str] | None = None,
    requires_python: str | None = None,
) -> FlowwWheel:
    """Build ``floww-<version>-py3-none-any.whl`` in memory.

    Defaults come from the installed distribution: the package directory of the imported
    ``floww``, its version, requirements and ``Requires-Python``. Raises ``OSError`` when the
    package directory cannot be read.
    """
    metadata = _installed_metadata()
    if package_dir is None:
        import floww

        package_dir = Path(floww.__file__).resolve().parent
    if version is None:
        version = (metadata.get_all("Version") or ["0+unknown"])[0] if metadata else "0+unknown"
    if requires is None:
        requires = (metadata.get_all("Requires-Dist") or []) if metadata else []
    if requires_python is None:
        requires_python = (metadata.get_all("Requires-Python") or [""])[0] if metadata else ""

    dist_info = f"{DISTRIBUTION}-{_safe(version)}.dist-info"
    files: dict[str, bytes] = {}
    for path in _package_files(package_dir):
        relative = path.relative_to(package_dir).as_posix()
        files[f"{DISTRIBUTION}/{relative}"] = path.read_bytes()
    files[f"{dist_info}/METADATA"] = _metadata_text(
        version, runtime_requirements(requires), requires_python
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: floww\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = _record(files, f"{dist_info}/RECORD")
    files[f"{dist_info}/RECORD"] = record

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, files[name])
    return FlowwWheel(
        filename=f"{DISTRIBUTION}-{_safe(version)}-py3-none-any.whl",
        data=buffer.getvalue(),
        version=version,
        content_digest=hashlib.sha256(record).hexdigest(),
    )


def _installed_metadata() -> importlib.metadata.PackageMetadata | None:
    try:
        return importlib.metadata.metadata(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def _package_files(package_dir: Path) -> list[Path]:
    found = []
    for path in package_dir.rglob("*"):
        relative = path.relative_to(package_dir)
        if any(part in _SKIPPED_DIRS for part in relative.parts):
            continue
        if path.is_file() and not path.name.endswith(_SKIPPED_SUFFIXES):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(package_dir).as_posix())


def _metadata_text(version: str, requires: Sequence[str], requires_python: str) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines.extend(f"Requires-Dist: {requirement}" for requirement in requires)
    return "\n".join(lines) + "\n"


def _record(files: dict[str, bytes], record_name: str) -> bytes:
    rows = []
    for name in sorted(files):
        digest = base64.urlsafe_b64encode(hashlib.sha256(files[name]).digest()).rstrip(b"=")
        rows.append(f"{name},sha256={digest.decode()},{len(files[name])}")
    rows.append(f"{record_name},,")
    return ("\n".join(rows) + "\n").encode()


def _safe(version: str) -> str:
    """A version as it appears in wheel and dist-info names (``-`` is the field separator)."""
    return re.sub(r"[^A-Za-z0-9.+!]+", "_", version)
