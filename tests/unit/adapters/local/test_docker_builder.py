"""DockerImageBuilder without a Docker daemon: a fake ``docker`` executable written into
tmp_path answers ``info``, records ``build`` and copies a hand-made archive on ``save``
(classic Docker layout or OCI layout). Also ``.dockerignore`` matching, the spec hash, and
``floww deploy`` choosing the Docker build for a project with a Dockerfile."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from floww.adapters.local.docker_builder import DockerImageBuilder, image_from_archive
from floww.adapters.local.docker_context import DockerIgnore
from floww.adapters.local.pip import embedded_target
from floww.domain.errors import InvalidInput, Unavailable
from floww.domain.model import RuntimeTarget
from floww.domain.oci import OciImage, blob_digest
from floww.domain.usecases.deploy import runtime_repository
from floww.entrypoints.cli.main import cli
from floww.entrypoints.cli.project import Project
from tests.unit.entrypoints.cli.conftest import World, hello_project
from tests.unit.entrypoints.cli.conftest import world as world

TARGET = RuntimeTarget("linux/amd64", "3.12")

FAKE_DOCKER = textwrap.dedent(
    """\
    #!{python}
    import json, pathlib, shutil, sys
    here = pathlib.Path(__file__).parent
    conf = json.loads((here / "docker.json").read_text())
    args = sys.argv[1:]
    with open(here / "calls.jsonl", "a") as log:
        log.write(json.dumps(args) + "\\n")
    if args[0] == "info":
        if conf.get("daemon", True):
            print("Server Version: 99.0-fake")
            sys.exit(0)
        print("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
              "Is the docker daemon running?", file=sys.stderr)
        sys.exit(1)
    if args[0] == "build":
        for line in conf.get("build_output", ["#1 [internal] load build definition", "#2 DONE"]):
            print(line, file=sys.stderr)
        sys.exit(conf.get("build_exit", 0))
    if args[0] == "save":
        shutil.copyfile(conf["archive"], args[args.index("-o") + 1])
        sys.exit(0)
    sys.exit(2)
    """
)


@attrs.define
class FakeDocker:
    directory: Path

    @property
    def command(self) -> tuple[str]:
        return (str(self.directory / "docker"),)

    def configure(self, **conf: Any) -> None:
        path = self.directory / "docker.json"
        current = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps(current | conf))

    def calls(self) -> list[list[str]]:
        log = self.directory / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def commands(self) -> list[str]:
        return [call[0] for call in self.calls()]


@pytest.fixture
def docker(tmp_path: Path) -> FakeDocker:
    directory = tmp_path / "fake-docker"
    directory.mkdir()
    script = directory / "docker"
    script.write_text(FAKE_DOCKER.format(python=sys.executable))
    script.chmod(0o755)
    fake = FakeDocker(directory)
    fake.configure(daemon=True)
    return fake


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY app.py /app/\n")
    (root / "app.py").write_text("print('hi')\n")
    return root


# -- hand-made archives -------------------------------------------------------------------


def layer_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def write_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as archive:
        for name, data in members.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return path


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_for(diff_ids: list[str] | None) -> bytes:
    doc: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["python"]},
    }
    if diff_ids is not None:
        doc["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    return json.dumps(doc, indent=1).encode()  # not canonical: kept bytes are recognisable


PLAIN = [layer_tar({"usr/lib/base.txt": b"base" * 100}), layer_tar({"app/app.py": b"print()"})]


def classic_archive(path: Path, reference: str | None = None) -> tuple[Path, bytes]:
    """The classic layout; with ``reference``, next to another image that must not be read."""
    config = config_for([sha(layer) for layer in PLAIN])
    entry = {"Config": "abc123.json", "Layers": ["l1/layer.tar", "l2/layer.tar"]}
    manifest = [entry]
    if reference:
        entry["RepoTags"] = [reference]
        manifest.insert(0, {"Config": "other.json", "RepoTags": ["other:1"], "Layers": []})
    members = {
        "manifest.json": json.dumps(manifest).encode(),
        "other.json": b"{}",
        "abc123.json": config,
        "l1/layer.tar": PLAIN[0],
        "l2/layer.tar": PLAIN[1],
        "repositories": b"{}",
    }
    return write_archive(path, members), config


def oci_archive(path: Path) -> tuple[Path, bytes]:
    """index.json -> image index (arm64, amd64, attestation) -> amd64 manifest whose first
    layer is gzipped already (with a non-zero mtime) and second is a plain tar; the config
    has no diff_ids."""
    gzipped = gzip.compress(PLAIN[0], mtime=1234567)
    config = config_for(None)
    wrong = layer_tar({"wrong-platform": b"arm"})

    def manifest(cfg: bytes, layers: list[tuple[str, bytes]]) -> bytes:
        return json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": sha(cfg),
                    "size": len(cfg),
                },
                "layers": [{"mediaType": t, "digest": sha(d), "size": len(d)} for t, d in layers],
            }
        ).encode()

    tar_type = "application/vnd.oci.image.layer.v1.tar"
    amd64 = manifest(config, [(tar_type + "+gzip", gzipped), (tar_type, PLAIN[1])])
    arm64 = manifest(config, [(tar_type, wrong)])
    attestation = manifest(b"{}", [])
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "digest": sha(arm64),
                    "size": len(arm64),
                    "platform": {"os": "linux", "architecture": "arm64"},
                },
                {
                    "digest": sha(attestation),
                    "size": len(attestation),
                    "platform": {"os": "unknown", "architecture": "unknown"},
                },
                {
                    "digest": sha(amd64),
                    "size": len(amd64),
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
            ],
        }
    ).encode()
    top = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": sha(index),
                    "size": len(index),
                }
            ],
        }
    ).encode()
    blobs = {
        f"blobs/sha256/{sha(d).split(':')[1]}": d
        for d in (gzipped, PLAIN[1], wrong, config, b"{}", amd64, arm64, attestation, index)
    }
    members = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": top, **blobs}
    return write_archive(path, members), config


def assert_gzip_layers(image: OciImage, plain: list[bytes]) -> None:
    assert [gzip.decompress(layer) for layer in image.layers] == plain
    diff_ids = json.loads(image.config)["rootfs"]["diff_ids"]
    assert diff_ids == [sha(layer) for layer in plain]
    manifest = json.loads(image.manifest())
    assert [layer["digest"] for layer in manifest["layers"]] == [
        blob_digest(layer) for layer in image.layers
    ]
    assert manifest["config"]["digest"] == blob_digest(image.config)


# -- building -------------------------------------------------------------------------------


def test_classic_archive_becomes_an_image_with_gzip_layers(
    docker: FakeDocker, project: Path, tmp_path: Path
) -> None:
    reported: list[str] = []
    builder = DockerImageBuilder(project, docker=docker.command, report=reported.append)
    tag = builder.spec_hash(TARGET, ["httpx==0.27"])
    archive, config = classic_archive(tmp_path / "classic.tar", f"floww-build:{tag}")
    docker.configure(archive=str(archive))

    built = builder.build(TARGET, ["httpx==0.27"])

    assert built.tag == tag
    assert docker.commands() == ["info", "build", "save"]
    build_call, save_call = docker.calls()[1:]
    reference = f"floww-build:{tag}"
    assert build_call == ["build", "--platform", "linux/amd64", "-t", reference, str(project)]
    assert save_call[0] == "save" and save_call[-1] == reference and "-o" in save_call
    assert_gzip_layers(built.image, PLAIN)
    assert built.image.config == config  # diff_ids were right: the config is kept as it is
    for layer in built.image.layers:  # deterministic: no timestamp in the gzip header
        assert layer[:2] == b"\x1f\x8b" and layer[4:8] == b"\x00\x00\x00\x00"
    assert "#1 [internal] load build definition" in reported
    again = builder.build(TARGET, ["httpx==0.27"])
    assert again.image.digest == built.image.digest


def test_oci_archive_keeps_gzip_layers_and_fixes_diff_ids(
    docker: FakeDocker, project: Path, tmp_path: Path
) -> None:
    archive, config = oci_archive(tmp_path / "oci.tar")
    docker.configure(archive=str(archive))
    builder = DockerImageBuilder(project, docker=docker.command)

    built = builder.build(TARGET, [])

    assert_gzip_layers(built.image, PLAIN)
    assert built.image.layers[0] == gzip.compress(PLAIN[0], mtime=1234567)  # kept as it was
    doc = json.loads(built.image.config)
    assert doc["config"] == json.loads(config)["config"]
    assert built.image.config != config  # rewritten: the archive's config had no diff_ids


def test_wrong_diff_ids_are_corrected(tmp_path: Path) -> None:
    config = config_for(["sha256:" + "0" * 64, sha(PLAIN[1])])
    manifest = [{"Config": "c.json", "Layers": ["1.tar", "2.tar"]}]
    members = {
        "manifest.json": json.dumps(manifest).encode(),
        "c.json": config,
        "1.tar": PLAIN[0],
        "2.tar": PLAIN[1],
    }
    image = image_from_archive(write_archive(tmp_path / "a.tar", members))
    assert_gzip_layers(image, PLAIN)
    assert json.loads(image.config)["config"] == json.loads(config)["config"]


def test_the_embedded_target_builds_for_the_daemon_platform(
    docker: FakeDocker, project: Path, tmp_path: Path
) -> None:
    archive, _ = oci_archive(tmp_path / "oci.tar")
    docker.configure(archive=str(archive))
    DockerImageBuilder(project, docker=docker.command).build(embedded_target(), [])
    build_call = docker.calls()[1]
    assert build_call[0] == "build" and "--platform" not in build_call


def test_a_failing_build_quotes_docker(docker: FakeDocker, project: Path) -> None:
    docker.configure(
        build_exit=1,
        build_output=[
            "#5 [2/2] RUN pip install nothing-such",
            "#5 ERROR: No matching distribution found for nothing-such",
            'ERROR: failed to solve: process "/bin/sh -c pip install nothing-such" '
            "did not complete successfully: exit code: 1",
        ],
    )
    with pytest.raises(InvalidInput) as caught:
        DockerImageBuilder(project, docker=docker.command).build(TARGET, [])
    message = str(caught.value)
    assert "No matching distribution found for nothing-such" in message
    assert "failed to solve" in message
    assert "fix the Dockerfile" in message
    assert docker.commands() == ["info", "build"]


def test_no_daemon_is_unavailable(docker: FakeDocker, project: Path) -> None:
    docker.configure(daemon=False)
    builder = DockerImageBuilder(project, docker=docker.command)
    assert not builder.daemon_reachable()
    with pytest.raises(Unavailable) as caught:
        builder.build(TARGET, [])
    assert str(caught.value).startswith("no Docker daemon is reachable: Cannot connect")
    assert docker.commands() == ["info", "info"]


def test_a_daemon_lost_during_the_build_is_unavailable(docker: FakeDocker, project: Path) -> None:
    docker.configure(build_exit=1, build_output=["ERROR: Cannot connect to the Docker daemon"])
    with pytest.raises(Unavailable, match="no Docker daemon is reachable"):
        DockerImageBuilder(project, docker=docker.command).build(TARGET, [])


def test_a_missing_docker_client_is_unavailable(project: Path, tmp_path: Path) -> None:
    builder = DockerImageBuilder(project, docker=(str(tmp_path / "no-such-docker"),))
    with pytest.raises(Unavailable, match="no Docker daemon is reachable"):
        builder.build(TARGET, [])


@pytest.mark.parametrize(
    "members",
    [
        {"something.txt": b"x"},
        {"manifest.json": b"not json"},
        {"manifest.json": b'[{"Config": "missing.json", "Layers": []}]'},
        {"manifest.json": b'[{"Config": "a.json", "Layers": []}, {"Config": "b.json"}]'},
        {"index.json": b'{"manifests": []}'},
        {"index.json": b'{"manifests": [{"digest": "sha256:../../etc"}]}'},
    ],
    ids=["neither", "bad-json", "missing-config", "untagged", "empty-index", "bad-digest"],
)
def test_an_unreadable_archive_is_invalid_input(
    docker: FakeDocker, project: Path, tmp_path: Path, members: dict[str, bytes]
) -> None:
    docker.configure(archive=str(write_archive(tmp_path / "bad.tar", members)))
    with pytest.raises(InvalidInput, match="cannot read the image archive"):
        DockerImageBuilder(project, docker=docker.command).build(TARGET, [])


def test_zstd_layers_are_refused_clearly(docker: FakeDocker, project: Path, tmp_path: Path) -> None:
    config = config_for(None)
    manifest = [{"Config": "c.json", "Layers": ["l.tar"]}]
    members = {
        "manifest.json": json.dumps(manifest).encode(),
        "c.json": config,
        "l.tar": b"\x28\xb5\x2f\xfd" + b"\x00" * 32,
    }
    docker.configure(archive=str(write_archive(tmp_path / "z.tar", members)))
    with pytest.raises(InvalidInput, match="zstd"):
        DockerImageBuilder(project, docker=docker.command).build(TARGET, [])


# -- the spec hash ----------------------------------------------------------------------------


def test_spec_hash_follows_the_context_but_not_ignored_files(project: Path) -> None:
    builder = DockerImageBuilder(project, docker=("/nonexistent/docker-must-not-run",))
    (project / ".dockerignore").write_text(
        "# build output\n*.log\n!keep.log\nnode_modules\n**/__pycache__\n"
    )
    for name in ("debug.log", "keep.log", "node_modules/lib/x.js", "pkg/__pycache__/m.pyc"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("1")
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")

    def tag() -> str:
        return builder.spec_hash(TARGET, ["httpx"])

    first = tag()
    assert len(first) == 40 and tag() == first
    for ignored in ("debug.log", "node_modules/lib/x.js", "pkg/__pycache__/m.pyc", ".git/HEAD"):
        (project / ignored).write_text("changed")
        assert tag() == first, ignored
    changes = [
        ("keep.log", "2"),  # brought back by the exception
        ("app.py", "print('bye')\n"),
        ("Dockerfile", "FROM python:3.13-slim\nCOPY app.py /app/\n"),
        ("pkg/new.py", ""),
        (".dockerignore", "*.log\n"),
    ]
    seen = {first}
    for name, text in changes:
        (project / name).write_text(text)
        assert tag() not in seen, name
        seen.add(tag())
    (project / "app.py").chmod(0o755)
    assert tag() not in seen
    assert builder.spec_hash(RuntimeTarget("linux/arm64", "3.12"), ["httpx"]) != tag()
    assert builder.spec_hash(TARGET, ["httpx", "attrs"]) != tag()


def test_spec_hash_without_a_dockerfile_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Dockerfile does not exist"):
        DockerImageBuilder(tmp_path).spec_hash(TARGET, [])


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["*.log"], "a.log", True),
        (["*.log"], "dir/a.log", False),  # `*` stays within one segment
        (["**/*.log"], "dir/sub/a.log", True),
        (["**/*.log"], "a.log", True),
        (["dir/**"], "dir/x/y", True),
        (["dir/**"], "dir", False),
        (["a/**/b"], "a/b", True),
        (["a/**/b"], "a/x/y/b", True),
        (["build"], "build/out/file.o", True),  # a matched directory takes its contents
        (["/build"], "build/x", True),
        (["./build/"], "build/x", True),
        (["build"], "src/build", False),
        (["*.md", "!README.md"], "README.md", False),
        (["*.md", "!README.md"], "CHANGES.md", True),
        (["!README.md", "*.md"], "README.md", True),  # the last match decides
        (["# comment", "", "  "], "# comment", False),
        (["file?.txt"], "file1.txt", True),
        (["file?.txt"], "file10.txt", False),
        (["[ab].txt"], "b.txt", True),
        (["[!ab].txt"], "b.txt", False),
        (["[!ab].txt"], "c.txt", True),
        (["\\*.txt"], "*.txt", True),
        (["\\*.txt"], "a.txt", False),
        (["a.b"], "axb", False),
    ],
)
def test_dockerignore_rules(patterns: list[str], path: str, excluded: bool) -> None:
    assert DockerIgnore(patterns).excludes(path) is excluded


# -- floww deploy ------------------------------------------------------------------------------


def _deploy(world: World, docker: FakeDocker, project: Path) -> Any:
    env = attrs.evolve(
        world.env(),
        environ={**world.env_vars, "FLOWW_DOCKER": docker.command[0]},
        docker_available=None,  # ask the (fake) docker client
    )
    return CliRunner().invoke(
        cli, ["deploy", "--yes", "--json", "--project", str(project)], obj=env
    )


@pytest.fixture
def docker_project(world: World, docker: FakeDocker) -> Iterator[Path]:
    world.login()
    project = hello_project(world)
    (project / "Dockerfile").write_text("FROM python:3.12-slim\n")
    archive, _ = classic_archive(world.tmp / "classic.tar")
    docker.configure(archive=str(archive))
    yield project


def test_deploy_builds_a_dockerfile_with_docker(
    world: World, docker: FakeDocker, docker_project: Path
) -> None:
    result = _deploy(world, docker, docker_project)

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["built"], doc["uploaded"]) == (True, True)
    tag = doc["image_ref"].split(":")[1]
    requirements = Project.load(docker_project).requirement_lines()
    assert tag == DockerImageBuilder(docker_project).spec_hash(TARGET, requirements)
    assert docker.commands() == ["info", "info", "build", "save"]
    assert docker.calls()[2][-2:] == [f"floww-build:{tag}", str(docker_project)]
    assert world.builder.builds == 0  # the daemonless builder was not used
    assert world.registry.exists(runtime_repository(world.namespace_id), tag)
    assert "#2 DONE" in result.stderr  # docker's output is relayed

    again = _deploy(world, docker, docker_project)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["built"] is False
    assert docker.commands().count("build") == 1  # an unchanged context is not rebuilt


def test_deploy_with_a_dockerfile_and_no_daemon_exits_69(
    world: World, docker: FakeDocker, docker_project: Path
) -> None:
    docker.configure(daemon=False)
    result = _deploy(world, docker, docker_project)
    assert result.exit_code == 69
    assert "no Docker daemon is reachable" in result.output
    assert "remove the Dockerfile" in result.output
    assert docker.commands() == ["info"]
