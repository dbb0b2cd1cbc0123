"""A deterministic image builder that installs nothing: a real, small OCI image per
dependency set, so registry and deploy code paths run without a package index."""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import io
import re
import tarfile
import threading
from collections.abc import Sequence

from floww.domain.canonical import canonical_json, sha256_hex
from floww.domain.errors import InvalidInput
from floww.domain.model import RuntimeTarget
from floww.domain.oci import OciImage
from floww.ports.support import BuiltImage, ImageBuilder

__all__ = ["FakeImageBuilder", "floww_version"]

# A PEP 508 name with optional extras and version specifiers; no URLs, options or markers.
_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
    r"(?:\[[A-Za-z0-9._,\s-]+\])?"
    r"\s*(?:(?:===|==|~=|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*$"
)
REQUIREMENTS_FILE = "floww-requirements.txt"


def floww_version() -> str:
    try:
        return importlib.metadata.version("floww")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


class FakeImageBuilder(ImageBuilder):
    """``spec_hash`` is the sha256 of canonical JSON of (target, sorted requirements, floww
    version); ``build`` returns the same bytes for the same spec and counts ``builds``."""

    def __init__(self, version: str | None = None) -> None:
        self._version = version if version is not None else floww_version()
        self._lock = threading.Lock()
        self.builds = 0

    def spec_hash(self, target: RuntimeTarget, requirements: Sequence[str]) -> str:
        return sha256_hex(canonical_json(self._spec(target, requirements)))

    def build(self, target: RuntimeTarget, requirements: Sequence[str]) -> BuiltImage:
        bad = [r for r in requirements if not _REQUIREMENT.match(r.strip())]
        if bad:
            raise InvalidInput(f"requirements cannot be installed: {', '.join(map(repr, bad))}")
        spec = self._spec(target, requirements)
        tag = sha256_hex(canonical_json(spec))
        listing = "".join(f"{r}\n" for r in sorted(r.strip() for r in requirements)).encode()
        tar_bytes = _tar({REQUIREMENTS_FILE: listing})
        layer = gzip.compress(tar_bytes, mtime=0)
        os_name, _, arch = target.platform.partition("/")
        config = {
            "architecture": arch or "amd64",
            "os": os_name or "linux",
            "config": {
                "Env": [f"FLOWW_PYTHON_VERSION={target.python_version}"],
                "Labels": {"floww.spec_hash": tag, "floww.version": self._version},
            },
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()],
            },
        }
        image = OciImage(config=canonical_json(config).encode(), layers=(layer,))
        with self._lock:
            self.builds += 1
        return BuiltImage(tag=tag, image=image)

    def _spec(self, target: RuntimeTarget, requirements: Sequence[str]) -> dict[str, object]:
        return {
            "target": {
                "platform": target.platform,
                "python_version": target.python_version,
                "base_image": target.base_image,
            },
            "requirements": sorted(r.strip() for r in requirements),
            "floww": self._version,
        }


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
