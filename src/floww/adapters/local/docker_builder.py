"""Runtime images from a project's own ``Dockerfile``, built by a Docker daemon.

``docker build`` builds the project directory (the build context) into ``floww-build:<tag>``;
``docker save`` writes that image to an archive, which becomes an ``OciImage``: the config blob
plus one gzip-compressed blob per layer, in order. Archives come in two shapes, both read: the
classic Docker layout (``manifest.json`` naming a config file and uncompressed layer tars) and
the OCI image layout (``index.json`` and ``blobs/sha256/...``). Uncompressed layers are gzipped
deterministically (mtime 0); compressed ones are kept as they are. The config's
``rootfs.diff_ids`` always names the uncompressed layers, in order.

The tag is a hash of the target, the requirements, the Dockerfile, every file of the build
context that ``.dockerignore`` does not exclude (see ``docker_context``) and floww's version: an
unchanged context is never rebuilt or uploaded again.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import importlib.metadata
import io
import json
import posixpath
import re
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from floww.adapters.local.docker_context import context_digest
from floww.adapters.local.pip import LOCAL_PLATFORM
from floww.domain.canonical import canonical_json, sha256_hex
from floww.domain.errors import DeadlineExceeded, InvalidInput, Unavailable
from floww.domain.model import RuntimeTarget
from floww.domain.oci import OciImage
from floww.ports.support import BuiltImage, ImageBuilder

__all__ = ["BUILD_REPOSITORY", "DockerImageBuilder", "image_from_archive"]

BUILD_REPOSITORY = "floww-build"
TAG_LENGTH = 40
_TAIL_LINES = 12
_CHUNK = 1 << 20
_DAEMON_DOWN = ("cannot connect to the docker daemon", "error during connect")
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


class DockerImageBuilder(ImageBuilder):
    """Builds the project's ``Dockerfile`` with a Docker daemon (see the module docstring).

    ``docker`` is the command of the Docker client; ``report`` receives docker's output lines;
    ``timeout`` bounds ``docker build`` and ``docker save`` each, in seconds.
    """

    def __init__(
        self,
        project_dir: Path,
        *,
        docker: Sequence[str] = ("docker",),
        report: Callable[[str], None] = lambda _: None,
        timeout: float = 3600.0,
    ) -> None:
        self._root = Path(project_dir)
        self._docker = tuple(docker)
        self._report = report
        self._timeout = timeout

    def check_daemon(self) -> None:
        """Return when ``docker info`` answers; ``Unavailable`` saying why otherwise."""
        try:
            done = subprocess.run(
                [*self._docker, "info"],
                capture_output=True,
                text=True,
                errors="replace",
                stdin=subprocess.DEVNULL,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"no Docker daemon is reachable: {exc}; start Docker") from exc
        if done.returncode != 0:
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            why = lines[0].strip() if lines else f"`docker info` exited with {done.returncode}"
            raise Unavailable(f"no Docker daemon is reachable: {why}; start Docker")

    def daemon_reachable(self) -> bool:
        """Whether ``docker info`` answers."""
        try:
            self.check_daemon()
        except Unavailable:
            return False
        return True

    def spec_hash(self, target: RuntimeTarget, requirements: Sequence[str]) -> str:
        """The first 40 hex digits of a sha256 over the target, the requirements, the
        Dockerfile, the build context and floww's version. ``InvalidInput`` when there is no
        Dockerfile or a context file cannot be read."""
        dockerfile = self._root / "Dockerfile"
        if not dockerfile.is_file():
            raise InvalidInput(f"{dockerfile} does not exist; the Docker build needs it")
        try:
            recipe = dockerfile.read_bytes()
            context = context_digest(self._root)
        except OSError as exc:
            raise InvalidInput(
                f"cannot read {exc.filename or self._root} for the Docker build: {exc.strerror}; "
                "fix its permissions or list it in .dockerignore"
            ) from exc
        spec = {
            "builder": "docker",
            "target": {
                "platform": target.platform,
                "python_version": target.python_version,
                "base_image": target.base_image,
            },
            "requirements": sorted({line.strip() for line in requirements if line.strip()}),
            "dockerfile": sha256_hex(recipe),
            "context": context,
            "floww": _floww_version(),
        }
        return sha256_hex(canonical_json(spec))[:TAG_LENGTH]

    def build(self, target: RuntimeTarget, requirements: Sequence[str]) -> BuiltImage:
        """``docker build`` the project, ``docker save`` it, and read the archive.

        Raises ``Unavailable`` when no daemon answers or ``docker save`` fails,
        ``InvalidInput`` when ``docker build`` fails (quoting docker's last lines) or the
        archive cannot be read, ``DeadlineExceeded`` past ``timeout``.
        """
        tag = self.spec_hash(target, requirements)
        self.check_daemon()
        reference = f"{BUILD_REPOSITORY}:{tag}"
        local = target.platform == LOCAL_PLATFORM
        platform = [] if local else ["--platform", target.platform]
        self._report(f"docker build -t {reference} {self._root}")
        code, tail = self._run(["build", *platform, "-t", reference, str(self._root)], stream=True)
        if code != 0:
            output = "\n".join(f"  {line}" for line in tail)
            if any(sign in line.lower() for line in tail for sign in _DAEMON_DOWN):
                raise Unavailable(f"no Docker daemon is reachable:\n{output}\nstart Docker")
            raise InvalidInput(
                f"`docker build` failed (exit {code}):\n{output}\n"
                "fix the Dockerfile (or the files it uses) and deploy again",
                output=list(tail),
            )
        with tempfile.TemporaryDirectory(prefix="floww-docker-") as scratch:
            archive = Path(scratch) / "image.tar"
            code, tail = self._run(["save", "-o", str(archive), reference], stream=False)
            if code != 0:
                last = tail[-1] if tail else f"exit {code}"
                raise Unavailable(f"`docker save {reference}` failed: {last}")
            self._report(f"converting {reference} ({archive.stat().st_size / 1e6:.1f} MB)")
            image = image_from_archive(archive, reference=reference, platform=target.platform)
        return BuiltImage(tag=tag, image=image)

    def _run(self, args: Sequence[str], *, stream: bool) -> tuple[int, list[str]]:
        """Run docker with merged output; its exit code and last output lines."""
        command = [*self._docker, *args]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self._root,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise Unavailable(
                f"no Docker daemon is reachable: cannot run {self._docker[0]!r} ({exc}); "
                "install Docker, or remove the Dockerfile to use the daemonless build"
            ) from exc
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            process.kill()

        timer = threading.Timer(self._timeout, expire)
        timer.start()
        tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        try:
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.rstrip()
                if line:
                    tail.append(line)
                    if stream:
                        self._report(line)
            code = process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        if expired.is_set():
            raise DeadlineExceeded(f"`docker {args[0]}` did not finish in {self._timeout:.0f}s")
        return code, list(tail)


def image_from_archive(
    archive: Path, *, reference: str | None = None, platform: str | None = None
) -> OciImage:
    """The image in a ``docker save`` archive (classic or OCI layout). ``reference`` picks
    the image among several of a classic archive, ``platform`` among the manifests of an OCI
    index. ``InvalidInput`` when the archive is neither or is damaged."""
    try:
        with tarfile.open(archive) as tar:
            names = set(tar.getnames())
            if "manifest.json" in names:
                config, streams = _classic_layout(tar, reference)
            elif "index.json" in names:
                config, streams = _oci_layout(tar, platform)
            else:
                raise ValueError("it holds neither manifest.json nor index.json")
            blobs, diff_ids = [], []
            for name in streams:
                blob, diff_id = _gzip_layer(_member(tar, name))
                blobs.append(blob)
                diff_ids.append(diff_id)
            return OciImage(config=_with_diff_ids(config, diff_ids), layers=tuple(blobs))
    except (
        OSError,
        EOFError,
        tarfile.TarError,
        ValueError,
        LookupError,
        TypeError,
        AttributeError,
    ) as exc:
        raise InvalidInput(
            f"cannot read the image archive written by `docker save`: {exc}"
        ) from exc


def _classic_layout(tar: tarfile.TarFile, reference: str | None) -> tuple[bytes, list[str]]:
    entries = json.loads(_member(tar, "manifest.json").read())
    if not isinstance(entries, list) or not entries:
        raise ValueError("manifest.json lists no image")
    tagged = [e for e in entries if reference in (e.get("RepoTags") or [])]
    if not tagged and len(entries) > 1:
        raise ValueError(f"manifest.json lists several images, none tagged {reference}")
    entry = (tagged or entries)[0]
    return _member(tar, entry["Config"]).read(), [str(name) for name in entry["Layers"]]


def _oci_layout(tar: tarfile.TarFile, platform: str | None) -> tuple[bytes, list[str]]:
    doc: dict[str, Any] = json.loads(_member(tar, "index.json").read())
    for _ in range(4):  # an index may name a (per-platform) index before the manifest
        if "manifests" not in doc and doc.get("mediaType") not in _INDEX_TYPES:
            return (
                _member(tar, _blob_path(doc["config"]["digest"])).read(),
                [_blob_path(layer["digest"]) for layer in doc["layers"]],
            )
        chosen = _pick_manifest(doc["manifests"], platform)
        doc = json.loads(_member(tar, _blob_path(chosen["digest"])).read())
    raise ValueError("index.json nests indexes too deeply")


def _pick_manifest(descriptors: list[dict[str, Any]], platform: str | None) -> dict[str, Any]:
    """The descriptor for ``platform`` (``os/arch``), else the first image one; attestation
    manifests (platform ``unknown/unknown``) never count."""
    images = [
        d
        for d in descriptors
        if (d.get("platform") or {}).get("os") != "unknown"
        and "vnd.docker.reference.type" not in (d.get("annotations") or {})
    ]
    if not images:
        raise ValueError("index.json names no image manifest")
    wanted = (platform or "").split("/")[:2]
    for descriptor in images:
        found = descriptor.get("platform") or {}
        if [found.get("os"), found.get("architecture")] == wanted:
            return descriptor
    return images[0]


def _blob_path(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    if not re.fullmatch(r"[a-z0-9]+", algorithm) or not re.fullmatch(r"[0-9a-f]+", hexdigest):
        raise ValueError(f"malformed digest {digest!r}")
    return f"blobs/{algorithm}/{hexdigest}"


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = tar.extractfile(posixpath.normpath(name))
    if handle is None:
        raise ValueError(f"{name} is not a file in the archive")
    return handle


def _gzip_layer(stream: IO[bytes]) -> tuple[bytes, str]:
    """(gzip blob, diff id) of a layer that is a tar, gzipped or not."""
    first = stream.read(_CHUNK)
    if first.startswith(b"\x28\xb5\x2f\xfd"):
        raise ValueError("a layer is zstd-compressed, which floww cannot upload; use gzip")
    diff = hashlib.sha256()
    if first.startswith(b"\x1f\x8b"):
        blob = first + stream.read()
        with gzip.GzipFile(fileobj=io.BytesIO(blob), mode="rb") as plain:
            while chunk := plain.read(_CHUNK):
                diff.update(chunk)
        return blob, "sha256:" + diff.hexdigest()
    out = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=out, mode="wb", compresslevel=6, mtime=0) as packed:
        chunk = first
        while chunk:
            diff.update(chunk)
            packed.write(chunk)
            chunk = stream.read(_CHUNK)
    return out.getvalue(), "sha256:" + diff.hexdigest()


def _with_diff_ids(config: bytes, diff_ids: list[str]) -> bytes:
    """``config`` as it is when its ``rootfs.diff_ids`` are right, else corrected."""
    doc = json.loads(config)
    if not isinstance(doc, dict):
        raise ValueError("the image config is not a JSON object")
    rootfs = doc.get("rootfs")
    if isinstance(rootfs, dict) and rootfs.get("diff_ids") == diff_ids:
        return config
    doc["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    return canonical_json(doc).encode()


def _floww_version() -> str:
    try:
        return importlib.metadata.version("floww")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
