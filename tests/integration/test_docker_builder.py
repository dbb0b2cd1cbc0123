"""DockerImageBuilder against a real Docker daemon, with images ``FROM scratch`` so nothing is
pulled from a registry.

Needs the ``docker`` client and a daemon that answers ``docker info``. Without one these tests
skip, saying why — also when CI is "true": the CI machines have no Docker daemon either, so
this suite is exercised only where a developer has one running. The fake-docker tests in
``tests/unit/test_docker_builder.py`` cover the same paths without a daemon.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from floww.adapters.local.docker_builder import DockerImageBuilder
from floww.adapters.local.image_builder import embedded_target
from floww.domain.errors import InvalidInput

pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    if not DockerImageBuilder(root).daemon_reachable():
        pytest.skip("no Docker daemon answers `docker info` (none runs here, nor in CI)")
    (root / "hello.txt").write_text("hello from docker\n")
    (root / "ignored.txt").write_text("never sent\n")
    (root / ".dockerignore").write_text("ignored.txt\n")
    return root


def test_builds_a_dockerfile_into_an_oci_image(project: Path) -> None:
    (project / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    lines: list[str] = []
    builder = DockerImageBuilder(project, report=lines.append)

    built = builder.build(embedded_target(), [])

    assert built.tag == builder.spec_hash(embedded_target(), [])
    assert lines, "docker's output is relayed"
    plain = [gzip.decompress(layer) for layer in built.image.layers]
    config = json.loads(built.image.config)
    assert config["rootfs"]["diff_ids"] == [
        "sha256:" + hashlib.sha256(layer).hexdigest() for layer in plain
    ]
    files = {}
    for layer in plain:
        with tarfile.open(fileobj=io.BytesIO(layer)) as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member)
                if handle is not None:
                    files[member.name.lstrip("/")] = handle.read()
    assert files["hello.txt"] == b"hello from docker\n"
    again = builder.build(embedded_target(), [])
    assert again.image.digest == built.image.digest


def test_a_broken_dockerfile_is_invalid_input(project: Path) -> None:
    (project / "Dockerfile").write_text("FROM scratch\nCOPY ignored.txt /ignored.txt\n")
    with pytest.raises(InvalidInput, match="fix the Dockerfile") as caught:
        DockerImageBuilder(project).build(embedded_target(), [])
    assert "ignored.txt" in str(caught.value)
