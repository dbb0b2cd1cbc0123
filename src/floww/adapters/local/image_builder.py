"""Runtime images without a Docker daemon: ``pip install --target`` into one new OCI layer.

The image is the target's base image (from ``base_source``; none for the embedded host, whose
own interpreter runs the layer) plus one layer holding floww's own wheel (built from
the installed package, never fetched from an index) and the project's requirements, installed by
``pip install --target <dir> --only-binary=:all:`` for the target's platform and Python version.
A base source may answer the base by reference (its config and ``base_layers`` descriptors, no
layer bytes): the built image then names those layers in its manifest and the registry mounts
them from the base's repository, so the base never passes through the building machine.

The installed tree sits under ``/opt/floww/site`` (``SITE_DIR``) in the layer; the image config
sets ``PYTHONPATH=/opt/floww/site`` (and ``Cmd`` to the target's handler when it names one:
the Lambda entry), and a function host running the layer without the config
must put that directory on ``PYTHONPATH`` itself. Console scripts (``bin/``) and pip's
``direct_url.json`` are left out: they name paths of the building machine.

The layer is deterministic (sorted entries, mtime 0, uid/gid 0, fixed modes, gzip mtime 0), so
the same installed files give the same image digest. Built images are cached under
``cache_dir`` by spec hash: ``blobs/sha256/<hex>`` holds content, ``images/<tag>.json`` names
an image's config and layers.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform as host_platform
import re
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from floww.adapters.local.pip import (
    ARCHES,
    LOCAL_PLATFORM,
    PROJECT_NAME,
    describe_target,
    embedded_target,
    pip_error,
    pip_install_args,
    pip_platform_tags,
    run_pip,
)
from floww.adapters.local.wheel import FlowwWheel, build_floww_wheel
from floww.domain.canonical import canonical_json, sha256_hex
from floww.domain.errors import InvalidInput, Unavailable
from floww.domain.model import RuntimeTarget
from floww.domain.oci import LayerRef, OciImage, blob_digest
from floww.ports.support import BuiltImage, ImageBuilder

__all__ = [
    "LOCAL_PLATFORM",
    "SITE_DIR",
    "PipImageBuilder",
    "embedded_target",
    "normalize_requirements",
    "pip_error",
    "pip_install_args",
    "pip_platform_tags",
]

SITE_DIR = "/opt/floww/site"
TAG_LENGTH = 40
_DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def normalize_requirements(requirements: Iterable[str]) -> list[str]:
    """One spelling per requirement set: entries may hold several lines; comments, blank lines
    and surrounding whitespace go, inner whitespace runs become one space and spaces around
    version operators go, the project name is PEP 503-normalised; the result is sorted and
    de-duplicated."""
    found: set[str] = set()
    for entry in requirements:
        for raw in entry.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            if not line:
                continue
            line = re.sub(r"\s+", " ", line)
            line = re.sub(r"\s*([=<>!~,]+)\s*", r"\1", line)
            line = re.sub(r"\s*\[\s*", "[", line)
            line = re.sub(r"\s*\]", "]", line)
            name = PROJECT_NAME.match(line)
            if name and not line.startswith("-"):
                line = re.sub(r"[-_.]+", "-", name.group(0)).lower() + line[name.end() :]
            found.add(line)
    return sorted(found)


class PipImageBuilder(ImageBuilder):
    """Builds runtime images with pip, without a Docker daemon (see the module docstring).

    ``pip`` is the command that runs pip; ``base_source`` fetches a base image by reference
    (its errors pass through); ``report`` receives progress lines; ``floww_wheel`` replaces the
    wheel built from the installed floww (for tests); otherwise that wheel is built once per
    builder, on first use, so edits to floww show in tags of a new builder. ``timeout`` bounds
    one pip run.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        pip: Sequence[str] = (sys.executable, "-m", "pip"),
        base_source: Callable[[str], OciImage] | None = None,
        report: Callable[[str], None] = lambda _: None,
        floww_wheel: FlowwWheel | None = None,
        timeout: float = 900.0,
    ) -> None:
        self._cache_dir = Path(cache_dir)
        self._pip = tuple(pip)
        self._timeout = timeout
        self._base_source = base_source
        self._report = report
        self._wheel = floww_wheel
        self._wheel_lock = threading.Lock()

    def spec_hash(self, target: RuntimeTarget, requirements: Sequence[str]) -> str:
        """The first 40 hex digits of the sha256 of canonical JSON of the target, the normalised
        requirements, the floww version and the content digest of floww's wheel."""
        wheel = self._floww_wheel()
        spec: dict[str, Any] = {
            "target": {
                "platform": target.platform,
                "python_version": target.python_version,
                "base_image": target.base_image,
            },
            "requirements": normalize_requirements(requirements),
            "floww": {"version": wheel.version, "wheel": wheel.content_digest},
        }
        if target.handler:  # only then, so that the tags of images without one stay as they were
            spec["target"]["handler"] = target.handler
        return sha256_hex(canonical_json(spec))[:TAG_LENGTH]

    def build(self, target: RuntimeTarget, requirements: Sequence[str]) -> BuiltImage:
        """Build (or load from the cache) the image for ``target`` and ``requirements``.

        Raises ``InvalidInput`` for pip options among the requirements, an unsupported
        platform, a base image without a ``base_source``, or requirements pip cannot install
        for the target; ``Unavailable`` when the package index (or pip itself) cannot be
        reached. Errors of ``base_source`` pass through.
        """
        wanted = normalize_requirements(requirements)
        options = [r for r in wanted if r.startswith("-")]
        if options:
            raise InvalidInput(
                f"requirements must be package requirements, not pip options: {', '.join(options)}"
            )
        if target.platform != LOCAL_PLATFORM:
            pip_platform_tags(target.platform)  # refuse unsupported platforms before any work
        if target.base_image and self._base_source is None:
            raise InvalidInput(
                f"target base image {target.base_image!r} needs a base image source to build on"
            )
        tag = self.spec_hash(target, wanted)
        cached = self._load(tag)
        if cached is not None:
            self._report(f"using cached image {tag[:12]}")
            return BuiltImage(tag=tag, image=cached)

        base = (
            self._base_source(target.base_image)
            if self._base_source and target.base_image
            else None
        )
        try:
            layer_tar = self._install(target, wanted)
        except OSError as exc:
            raise Unavailable(f"cannot build under {self._cache_dir}: {exc}") from exc
        layer = gzip.compress(layer_tar, compresslevel=6, mtime=0)
        self._report(f"packing layer {len(layer) / 1_000_000:.1f} MB")
        config = self._config(target, tag, base, "sha256:" + hashlib.sha256(layer_tar).hexdigest())
        image = OciImage(
            config=config,
            layers=(*(base.layers if base else ()), layer),
            base_layers=base.base_layers if base else (),
            base_repository=base.base_repository if base else "",
        )
        try:
            self._store(tag, image)
        except OSError as exc:
            raise Unavailable(f"cannot write the image cache {self._cache_dir}: {exc}") from exc
        return BuiltImage(tag=tag, image=image)

    # -- pieces --------------------------------------------------------------------------

    def _install(self, target: RuntimeTarget, wanted: Sequence[str]) -> bytes:
        """pip-install floww and ``wanted`` into a scratch directory; the layer tar of it."""
        work = self._cache_dir / "tmp"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=work) as scratch:
            packages = [str(self._floww_wheel().write(Path(scratch))), *wanted]
            args = pip_install_args(Path(scratch) / "site", packages, target)
            where = describe_target(target)
            self._report(f"resolving floww and {len(wanted)} requirements for {where}")
            lines, code = run_pip([*self._pip, *args], self._report, self._timeout)
            if code != 0:
                raise pip_error(lines, target)
            return _layer_tar(Path(scratch) / "site")

    def _floww_wheel(self) -> FlowwWheel:
        with self._wheel_lock:
            if self._wheel is None:
                self._wheel = build_floww_wheel()
            return self._wheel

    def _config(self, target: RuntimeTarget, tag: str, base: OciImage | None, diff: str) -> bytes:
        doc = _base_config(base) if base is not None else {}
        settings = dict(doc.get("config") or {})
        env = [e for e in settings.get("Env") or [_DEFAULT_PATH] if not e.startswith("PYTHONPATH=")]
        previous = [
            e[len("PYTHONPATH=") :]
            for e in settings.get("Env") or []
            if e.startswith("PYTHONPATH=")
        ]
        env.append("PYTHONPATH=" + ":".join([SITE_DIR, *filter(None, previous)]))
        settings["Env"] = env
        if target.handler:
            settings["Cmd"] = [target.handler]
        settings["Labels"] = {
            **(settings.get("Labels") or {}),
            "floww.spec_hash": tag,
            "floww.version": self._floww_wheel().version,
            "floww.python_version": target.python_version,
            "floww.site": SITE_DIR,
        }
        doc["config"] = settings
        doc["architecture"], doc["os"] = _arch_os(target.platform)
        doc["rootfs"] = {
            "type": "layers",
            "diff_ids": [*doc.get("rootfs", {}).get("diff_ids", []), diff],
        }
        if isinstance(doc.get("history"), list):
            doc["history"] = [*doc["history"], {"created_by": "floww: pip install --target"}]
        return canonical_json(doc).encode()

    def _load(self, tag: str) -> OciImage | None:
        index = self._cache_dir / "images" / f"{tag}.json"
        try:
            names = json.loads(index.read_text())
            config = self._blob(names["config"])
            layers = tuple(self._blob(digest) for digest in names["layers"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return OciImage(
            config=config,
            layers=layers,
            base_layers=tuple(LayerRef(*ref) for ref in names.get("base_layers", ())),
            base_repository=str(names.get("base_repository", "")),
        )

    def _blob(self, digest: str) -> bytes:
        data = (self._cache_dir / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()
        if blob_digest(data) != digest:
            raise ValueError(f"cached blob {digest} is corrupt")
        return data

    def _store(self, tag: str, image: OciImage) -> None:
        for data in (image.config, *image.layers):
            _write_atomic(
                self._cache_dir / "blobs" / "sha256" / blob_digest(data).removeprefix("sha256:"),
                data,
            )
        names = {
            "config": blob_digest(image.config),
            "layers": [blob_digest(layer) for layer in image.layers],
            "base_layers": [[r.digest, r.size, r.media_type] for r in image.base_layers],
            "base_repository": image.base_repository,
        }
        _write_atomic(self._cache_dir / "images" / f"{tag}.json", json.dumps(names).encode())


def _arch_os(platform: str) -> tuple[str, str]:
    if platform == LOCAL_PLATFORM:
        machine = host_platform.machine().lower()
        return ARCHES.get(machine, machine), sys.platform.rstrip("0123456789")
    os_name, _, rest = platform.partition("/")
    return ARCHES.get(rest.partition("/")[0], rest.partition("/")[0]), os_name


def _base_config(base: OciImage) -> dict[str, Any]:
    try:
        doc = json.loads(base.config)
    except ValueError as exc:
        raise InvalidInput("the base image's config is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise InvalidInput("the base image's config is not a JSON object")
    rootfs = doc.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    layer_count = len(base.base_layers) + len(base.layers)
    if base.base_layers and (not isinstance(diff_ids, list) or len(diff_ids) != layer_count):
        raise InvalidInput("the base image's config does not list the diff ids of its layers")
    if not isinstance(diff_ids, list) or len(diff_ids) != layer_count:
        try:
            diff_ids = [blob_digest(gzip.decompress(layer)) for layer in base.layers]
        except (OSError, EOFError) as exc:
            raise InvalidInput("a base image layer is not a gzip-compressed tar") from exc
    doc["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    return doc


def _layer_tar(site: Path) -> bytes:
    """The installed tree under ``SITE_DIR`` as a reproducible tar (see module docstring)."""
    prefix = SITE_DIR.strip("/")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        parts = prefix.split("/")
        for depth in range(1, len(parts) + 1):
            archive.addfile(_entry("/".join(parts[:depth]), tarfile.DIRTYPE, 0o755))
        for path in sorted(_layer_paths(site), key=lambda p: p.relative_to(site).as_posix()):
            name = f"{prefix}/{path.relative_to(site).as_posix()}"
            if path.is_symlink():
                entry = _entry(name, tarfile.SYMTYPE, 0o777)
                entry.linkname = os.readlink(path)
                archive.addfile(entry)
            elif path.is_dir():
                archive.addfile(_entry(name, tarfile.DIRTYPE, 0o755))
            else:
                data = path.read_bytes()
                if path.name == "RECORD" and path.parent.name.endswith(".dist-info"):
                    data = _without_direct_url(data, path.parent.name)
                executable = path.stat().st_mode & 0o111
                entry = _entry(name, tarfile.REGTYPE, 0o755 if executable else 0o644)
                entry.size = len(data)
                archive.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def _layer_paths(site: Path) -> list[Path]:
    kept = []
    for path in site.rglob("*"):
        parts = path.relative_to(site).parts
        if parts[0] == "bin" or "__pycache__" in parts or path.suffix == ".pyc":
            continue
        if path.name == "direct_url.json" and path.parent.name.endswith(".dist-info"):
            continue
        kept.append(path)
    return kept


def _without_direct_url(record: bytes, dist_info: str) -> bytes:
    """``RECORD`` minus the row for ``direct_url.json``, which the layer leaves out."""
    row = f"{dist_info}/direct_url.json,".encode()
    return b"".join(line for line in record.splitlines(keepends=True) if not line.startswith(row))


def _entry(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type = kind
    entry.mode = mode
    entry.mtime = 0
    entry.uid = entry.gid = 0
    entry.uname = entry.gname = ""
    return entry


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)
