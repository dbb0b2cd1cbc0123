"""PipImageBuilder with a real pip: images the embedded host can run, foreign targets, the
cache, and failures. pip reaches the package index as configured on this machine; without it
the index-dependent tests skip (and fail when CI is "true")."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from floww.adapters.local.image_builder import SITE_DIR, PipImageBuilder, embedded_target
from floww.adapters.local.wheel import FlowwWheel, build_floww_wheel
from floww.domain.errors import InvalidInput, Unavailable
from floww.domain.model import RuntimeTarget
from floww.domain.oci import OciImage, blob_digest
from floww.ports.support import BuiltImage

pytestmark = pytest.mark.integration

NO_PIP = ("/nonexistent/pip-must-not-run",)
FAKE_PIP = textwrap.dedent(
    """
    import pathlib, sys
    args = sys.argv[1:]
    site = pathlib.Path(args[args.index("--target") + 1])
    (site / "floww").mkdir(parents=True)
    (site / "floww" / "__init__.py").write_text("FROM_LAYER = True\\n")
    (site / "bin").mkdir()
    (site / "bin" / "tool").write_text("#!" + sys.executable + "\\n")
    with open(pathlib.Path(__file__).with_name("runs.log"), "a") as log:
        log.write(" ".join(args) + "\\n")
    """
)


@pytest.fixture(scope="module")
def wheel() -> FlowwWheel:
    """floww's wheel, built once so that concurrent edits of the tree cannot change tags."""
    return build_floww_wheel()


def build(builder: PipImageBuilder, target: RuntimeTarget, requirements: list[str]) -> BuiltImage:
    try:
        return builder.build(target, requirements)
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the package index must be reachable in CI: {exc}")
        pytest.skip(f"the package index is not reachable: {exc}")


def unpack(image: OciImage, into: Path) -> Path:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(image.layers[-1]))) as layer:
        layer.extractall(into, filter="data")
    return into / SITE_DIR.strip("/")


def layer_names(image: OciImage) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(image.layers[-1]))) as layer:
        return layer.getnames()


# -- real pip -----------------------------------------------------------------------------


def test_the_embedded_image_runs_floww_and_its_dependencies(
    tmp_path: Path, wheel: FlowwWheel
) -> None:
    progress: list[str] = []
    builder = PipImageBuilder(tmp_path / "cache", floww_wheel=wheel, report=progress.append)
    built = build(builder, embedded_target(), [])
    assert built.tag == builder.spec_hash(embedded_target(), [])
    site = unpack(built.image, tmp_path / "root")

    probe = "import floww, cronsim, attrs; print(floww.__file__, cronsim.__file__, attrs.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(site)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for module_file in result.stdout.split():
        assert Path(module_file).resolve().is_relative_to(site.resolve())

    config = json.loads(built.image.config)
    assert f"PYTHONPATH={SITE_DIR}" in config["config"]["Env"]
    assert config["config"]["Labels"]["floww.spec_hash"] == built.tag
    assert config["rootfs"]["diff_ids"] == [
        blob_digest(gzip.decompress(layer)) for layer in built.image.layers
    ]
    assert any(line.startswith("packing layer") for line in progress)


def test_same_inputs_give_the_same_image_and_the_cache_skips_pip(
    tmp_path: Path, wheel: FlowwWheel
) -> None:
    first = build(PipImageBuilder(tmp_path / "a", floww_wheel=wheel), embedded_target(), [])
    elsewhere = build(PipImageBuilder(tmp_path / "b", floww_wheel=wheel), embedded_target(), [])
    assert elsewhere.image.digest == first.image.digest

    progress: list[str] = []
    cached = PipImageBuilder(
        tmp_path / "a", pip=NO_PIP, floww_wheel=wheel, report=progress.append
    ).build(embedded_target(), [])
    assert cached == first
    assert progress == [f"using cached image {first.tag[:12]}"]


def test_a_linux_amd64_python_312_image(tmp_path: Path, wheel: FlowwWheel) -> None:
    target = RuntimeTarget("linux/amd64", "3.12")
    built = build(PipImageBuilder(tmp_path / "cache", floww_wheel=wheel), target, ["six==1.16.0"])
    names = layer_names(built.image)
    site = SITE_DIR.strip("/")
    assert f"{site}/six.py" in names and f"{site}/six-1.16.0.dist-info/METADATA" in names
    assert f"{site}/floww/__init__.py" in names and f"{site}/cronsim/__init__.py" in names
    config = json.loads(built.image.config)
    assert (config["architecture"], config["os"]) == ("amd64", "linux")


def test_an_uninstallable_requirement_is_named(tmp_path: Path, wheel: FlowwWheel) -> None:
    builder = PipImageBuilder(tmp_path / "cache", floww_wheel=wheel)
    with pytest.raises(InvalidInput, match="floww-no-such-package-zq") as caught:
        build(builder, RuntimeTarget("linux/arm64", "3.12"), ["floww-no-such-package-zq==1.0"])
    assert "linux/arm64/Python 3.12" in str(caught.value)


def test_an_unreachable_index_is_unavailable(
    tmp_path: Path, wheel: FlowwWheel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    builder = PipImageBuilder(
        tmp_path / "cache",
        pip=(sys.executable, "-m", "pip", "--retries", "1", "--no-cache-dir"),
        floww_wheel=wheel,
    )
    with pytest.raises(Unavailable, match="cannot be reached"):
        builder.build(embedded_target(), ["six==1.16.0"])


def test_the_wheel_of_the_installed_floww(wheel: FlowwWheel, tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(wheel.data)) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"floww-{wheel.version}.dist-info/METADATA").decode()
    assert {"floww/__init__.py", "floww/sdk/runtime.py"} <= names
    assert not [n for n in names if "__pycache__" in n]
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist")]
    assert any("cronsim" in r for r in requires) and any("attrs" in r for r in requires)
    assert not [r for r in requires if "extra" in r or "starlette" in r]


# -- a stand-in pip (no index) ------------------------------------------------------------


@pytest.fixture
def fake_pip(tmp_path: Path) -> tuple[tuple[str, ...], Path]:
    script = tmp_path / "pip" / "fake_pip.py"
    script.parent.mkdir()
    script.write_text(FAKE_PIP)
    return (sys.executable, str(script)), script.with_name("runs.log")


def test_foreign_targets_get_platform_flags_and_keep_the_base_image(
    tmp_path: Path, wheel: FlowwWheel, fake_pip: tuple[tuple[str, ...], Path]
) -> None:
    pip, runs = fake_pip
    base_tar = b"base layer tar"
    base = OciImage(
        config=json.dumps(
            {
                "architecture": "arm64",
                "os": "linux",
                "config": {"Env": ["PATH=/usr/bin", "PYTHONPATH=/var/task"], "Labels": {"a": "b"}},
                "rootfs": {"type": "layers", "diff_ids": [blob_digest(base_tar)]},
            }
        ).encode(),
        layers=(gzip.compress(base_tar, mtime=0),),
    )
    asked: list[str] = []

    def base_source(reference: str) -> OciImage:
        asked.append(reference)
        return base

    builder = PipImageBuilder(tmp_path / "c", pip=pip, base_source=base_source, floww_wheel=wheel)
    target = RuntimeTarget("linux/arm64", "3.12", "public.example/python:3.12")
    built = builder.build(target, ["six==1.16.0"])

    assert asked == ["public.example/python:3.12"]
    args = runs.read_text().split()
    assert args[args.index("--platform") + 1] == "manylinux2014_aarch64"
    assert args[args.index("--python-version") + 1] == "3.12"
    assert "--only-binary=:all:" in args and args[-1] == "six==1.16.0"
    assert args[-2].endswith(wheel.filename)

    assert built.image.layers[0] == base.layers[0] and len(built.image.layers) == 2
    config = json.loads(built.image.config)
    assert config["rootfs"]["diff_ids"][0] == blob_digest(base_tar)
    assert config["rootfs"]["diff_ids"][1] == blob_digest(gzip.decompress(built.image.layers[1]))
    assert "PATH=/usr/bin" in config["config"]["Env"]
    assert f"PYTHONPATH={SITE_DIR}:/var/task" in config["config"]["Env"]
    assert config["config"]["Labels"]["a"] == "b"
    assert not [n for n in layer_names(built.image) if "/bin" in n]


def test_the_embedded_target_installs_for_the_host(
    tmp_path: Path, wheel: FlowwWheel, fake_pip: tuple[tuple[str, ...], Path]
) -> None:
    pip, runs = fake_pip
    builder = PipImageBuilder(tmp_path / "c", pip=pip, floww_wheel=wheel)
    first = builder.build(embedded_target(), ["six"])
    again = builder.build(embedded_target(), [" six  # same"])
    assert again == first
    lines = runs.read_text().splitlines()
    assert len(lines) == 1
    assert "--platform" not in lines[0] and "--python-version" not in lines[0]
