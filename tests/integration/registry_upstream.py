"""A real upstream for the registry proxy, and a real OCI client in front of it.

- ``upstream_registry(username, password)``: Debian's ``docker-registry`` (the reference
  distribution server) on loopback with Basic auth from an htpasswd file (bcrypt, made by
  ``htpasswd`` from ``apache2-utils``), filesystem storage in a temporary directory.
- ``oci_layout(root, layers)``: an OCI image layout on disk (tar+gzip layers, config, manifest,
  ``index.json``) that ``skopeo`` copies from; ``skopeo(...)`` runs the real client.

Missing tools skip the tests, and fail them when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import httpx
import pytest

from tests.contracts.factories_registry import _free_port

__all__ = ["OciLayout", "Upstream", "oci_layout", "require", "skopeo", "upstream_registry"]

START_TIMEOUT_SECONDS = 15.0
SKOPEO_TIMEOUT_SECONDS = 600.0
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


def require(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if found is None:
        reason = f"{tool} is not installed (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (required when CI=true)")
        pytest.skip(reason)
    return found


@attrs.frozen
class Upstream:
    url: str
    username: str
    password: str = attrs.field(repr=False)

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    def tags(self, repository: str) -> httpx.Response:
        return httpx.get(f"{self.url}/v2/{repository}/tags/list", auth=self.auth, timeout=10)


@contextlib.contextmanager
def upstream_registry(
    username: str = "upstream", password: str = "s3cret-upstream"
) -> Iterator[Upstream]:
    binary = require("docker-registry", "docker-registry")
    htpasswd = require("htpasswd", "apache2-utils")
    with tempfile.TemporaryDirectory() as root:
        users = Path(root) / "htpasswd"
        made = subprocess.run(
            [htpasswd, "-Bbn", username, password], capture_output=True, text=True, check=True
        )
        users.write_text(made.stdout)
        port = _free_port()
        config = Path(root) / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root}/data\n"
            f"auth:\n  htpasswd:\n    realm: upstream\n    path: {users}\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
        process = subprocess.Popen(
            [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(url, process)
            yield Upstream(url, username, password)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            pytest.fail(f"docker-registry exited with {process.returncode}: {stderr[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/v2/", timeout=1).status_code == 401:  # up, and asks for auth
                return
        time.sleep(0.05)
    pytest.fail(f"docker-registry did not answer at {url} in {START_TIMEOUT_SECONDS}s")


@attrs.frozen
class OciLayout:
    path: Path
    tag: str
    manifest_digest: str
    blobs: tuple[str, ...]  # config and layer digests

    @property
    def reference(self) -> str:
        return f"oci:{self.path}:{self.tag}"

    def blob(self, digest: str) -> Path:
        return self.path / "blobs" / "sha256" / digest.removeprefix("sha256:")


def tar_gz_layer(name: str, content: bytes) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def oci_layout(root: Path, layers: Sequence[bytes], *, tag: str = "v1") -> OciLayout:
    """An image layout whose layers are ``layers`` exactly (already compressed)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    descriptors = [
        _write_blob(blobs, layer, "application/vnd.oci.image.layer.v1.tar+gzip") for layer in layers
    ]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]},
        }
    ).encode()
    config_descriptor = _write_blob(blobs, config, "application/vnd.oci.image.config.v1+json")
    return _finish_layout(root, blobs, config_descriptor, descriptors, tag)


def big_layer_layout(root: Path, size: int, *, tag: str = "big") -> OciLayout:
    """A layout with one gzip layer of at least ``size`` bytes: zeros in stored (level 0)
    deflate blocks, so it is quick to make and does not shrink, and ``skopeo`` (seeing gzip)
    sends it as it is. Written in chunks, never held in memory."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    digest, written = hashlib.sha256(), 0
    scratch = blobs / "scratch"
    stored = zlib.compressobj(0, zlib.DEFLATED, 31)  # 31: a gzip container
    zeros = bytes(1 << 20)
    with scratch.open("wb") as out:
        for part in (*(stored.compress(zeros) for _ in range(size // len(zeros))), stored.flush()):
            out.write(part)
            digest.update(part)
            written += len(part)
    scratch.rename(blobs / digest.hexdigest())
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": f"sha256:{digest.hexdigest()}",
        "size": written,
    }
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
        }
    ).encode()
    config_descriptor = _write_blob(blobs, config, "application/vnd.oci.image.config.v1+json")
    return _finish_layout(root, blobs, config_descriptor, [layer], tag)


def _write_blob(blobs: Path, data: bytes, media_type: str) -> dict[str, object]:
    hexdigest = hashlib.sha256(data).hexdigest()
    (blobs / hexdigest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{hexdigest}", "size": len(data)}


def _finish_layout(
    root: Path,
    blobs: Path,
    config: dict[str, object],
    layers: Sequence[dict[str, object]],
    tag: str,
) -> OciLayout:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": config,
            "layers": list(layers),
        }
    ).encode()
    manifest_descriptor = _write_blob(blobs, manifest, MANIFEST_MEDIA_TYPE)
    manifest_descriptor["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": [manifest_descriptor]})
    )
    return OciLayout(
        root,
        tag,
        str(manifest_descriptor["digest"]),
        (str(config["digest"]), *(str(layer["digest"]) for layer in layers)),
    )


def skopeo(*args: str, timeout: float = SKOPEO_TIMEOUT_SECONDS) -> subprocess.CompletedProcess[str]:
    """Run ``skopeo`` (insecure policy: the images are the test's own; plain HTTP on
    loopback); never raises for a non-zero exit."""
    binary = require("skopeo", "skopeo")
    return subprocess.run(
        [binary, "--insecure-policy", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "REGISTRY_AUTH_FILE": os.devnull},
    )


def push(layout: OciLayout, target: str, token: str) -> subprocess.CompletedProcess[str]:
    return skopeo(
        "copy", "--dest-tls-verify=false", "--dest-creds", f"floww:{token}",
        layout.reference, f"docker://{target}",
    )  # fmt: skip


def pull(source: str, path: Path, token: str, tag: str = "v1") -> subprocess.CompletedProcess[str]:
    return skopeo(
        "copy", "--src-tls-verify=false", "--src-creds", f"floww:{token}",
        f"docker://{source}", f"oci:{path}:{tag}",
    )  # fmt: skip
