"""PipImageBuilder without pip: requirement normalisation, spec hashes, floww's wheel, the
reproducible layer and the translation of pip failures."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww.adapters.local.image_builder import (
    SITE_DIR,
    PipImageBuilder,
    _layer_tar,
    normalize_requirements,
)
from floww.adapters.local.pip import (
    embedded_target,
    pip_error,
    pip_install_args,
    pip_platform_tags,
)
from floww.adapters.local.wheel import FlowwWheel, build_floww_wheel, runtime_requirements
from floww.domain.errors import InvalidInput, Unavailable
from floww.domain.model import RuntimeTarget

AMD64 = RuntimeTarget("linux/amd64", "3.12")
NO_PIP = ("/nonexistent/pip-must-not-run",)


def make_package(root: Path) -> Path:
    package = root / "floww"
    (package / "sdk" / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = 1\n")
    (package / "sdk" / "__init__.py").write_text("")
    (package / "sdk" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (package / "py.typed").write_text("")
    (package / "stale.pyc").write_bytes(b"\0")
    return package


def make_wheel(root: Path, version: str = "1.2.3") -> FlowwWheel:
    return build_floww_wheel(
        make_package(root),
        version=version,
        requires=["attrs>=23.2", "cronsim>=2.6", "starlette>=0.37; extra == 'server'"],
        requires_python=">=3.11",
    )


def builder(tmp_path: Path, wheel: FlowwWheel | None = None) -> PipImageBuilder:
    wheel = wheel or make_wheel(tmp_path / "pkg")
    return PipImageBuilder(tmp_path / "cache", pip=NO_PIP, floww_wheel=wheel)


# -- requirements -------------------------------------------------------------------------


def test_normalization_drops_comments_blanks_whitespace_case_and_duplicates() -> None:
    messy = [
        "  Six == 1.16.0   # pinned for reasons",
        "",
        "# only a comment",
        "attrs>=23 ,<25",
        "six==1.16.0",
        "requests[socks , security]>=2\nPyYAML",
        "Typing_Extensions",
    ]
    assert normalize_requirements(messy) == [
        "attrs>=23,<25",
        "pyyaml",
        "requests[socks,security]>=2",
        "six==1.16.0",
        "typing-extensions",
    ]


def test_normalization_keeps_markers_and_urls_meaningful() -> None:
    assert normalize_requirements(['tomli ; python_version < "3.11"']) == [
        'tomli ; python_version<"3.11"'
    ]
    assert normalize_requirements(["pkg @ https://example.org/p.whl#sha256=ab"]) == [
        "pkg @ https://example.org/p.whl#sha256=ab"
    ]


@given(st.lists(st.text(alphabet="aB_-.=<> #[],;\n1\t@~!", max_size=20), max_size=6))
def test_normalization_is_idempotent(requirements: list[str]) -> None:
    once = normalize_requirements(requirements)
    assert normalize_requirements(once) == once


# -- spec hash ----------------------------------------------------------------------------


def test_spec_hash_ignores_spelling_but_not_meaning(tmp_path: Path) -> None:
    b = builder(tmp_path)
    tag = b.spec_hash(AMD64, ["six==1.16.0", "attrs>=23"])
    assert len(tag) == 40 and int(tag, 16) >= 0
    assert b.spec_hash(AMD64, ["# deps", " attrs >= 23", "", "Six==1.16.0", "six==1.16.0"]) == tag
    different = {
        b.spec_hash(RuntimeTarget("linux/arm64", "3.12"), ["six==1.16.0", "attrs>=23"]),
        b.spec_hash(RuntimeTarget("linux/amd64", "3.13"), ["six==1.16.0", "attrs>=23"]),
        b.spec_hash(RuntimeTarget("linux/amd64", "3.12", "base:1"), ["six==1.16.0", "attrs>=23"]),
        b.spec_hash(AMD64, ["six==1.16.0", "attrs>=24"]),
        b.spec_hash(AMD64, ["six==1.16.0"]),
    }
    assert tag not in different and len(different) == 5


def test_spec_hash_follows_floww_version_and_content(tmp_path: Path) -> None:
    first = make_wheel(tmp_path / "a")
    same = make_wheel(tmp_path / "b")
    newer = make_wheel(tmp_path / "c", version="1.2.4")
    package = make_package(tmp_path / "d")
    unedited = build_floww_wheel(package, version="1.2.3", requires=[])
    (package / "__init__.py").write_text("VERSION = 2\n")
    edited = build_floww_wheel(package, version="1.2.3", requires=[])

    def tag(wheel: FlowwWheel) -> str:
        return builder(tmp_path, wheel).spec_hash(AMD64, ["six"])

    assert tag(first) == tag(same)
    assert tag(first) != tag(newer)
    assert tag(edited) != tag(unedited)


def test_spec_hash_builds_nothing(tmp_path: Path) -> None:
    b = builder(tmp_path)
    b.spec_hash(AMD64, ["six"])
    assert not (tmp_path / "cache").exists()


# -- build input checks (no pip involved) -------------------------------------------------


def test_a_base_image_needs_a_base_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="base image source"):
        builder(tmp_path).build(RuntimeTarget("linux/amd64", "3.12", "python:3.12-slim"), [])


def test_pip_options_are_not_requirements(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="--index-url"):
        builder(tmp_path).build(AMD64, ["six", "--index-url=https://elsewhere.example/simple"])


def test_unsupported_platforms_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="windows/amd64"):
        builder(tmp_path).build(RuntimeTarget("windows/amd64", "3.12"), [])


def test_platform_tags() -> None:
    assert pip_platform_tags("linux/amd64") == ["manylinux2014_x86_64"]
    assert pip_platform_tags("linux/arm64") == ["manylinux2014_aarch64"]
    assert pip_platform_tags("linux/arm64/v8") == ["manylinux2014_aarch64"]
    with pytest.raises(InvalidInput):
        pip_platform_tags("linux/s390x")


def test_pip_arguments_for_foreign_and_embedded_targets(tmp_path: Path) -> None:
    site = tmp_path / "site"
    foreign = pip_install_args(site, ["floww.whl", "six"], RuntimeTarget("linux/arm64", "3.12"))
    assert foreign[:3] == ["install", "--target", str(site)]
    assert "--only-binary=:all:" in foreign and "--no-compile" in foreign
    assert foreign[foreign.index("--platform") + 1] == "manylinux2014_aarch64"
    assert foreign[foreign.index("--python-version") + 1] == "3.12"
    assert foreign[foreign.index("--implementation") + 1] == "cp"
    assert foreign[-2:] == ["floww.whl", "six"]

    local = pip_install_args(site, ["floww.whl"], embedded_target())
    assert "--platform" not in local and "--python-version" not in local
    assert "--only-binary=:all:" in local and local[-1] == "floww.whl"


# -- floww's wheel ------------------------------------------------------------------------


def test_runtime_requirements_drop_extras() -> None:
    assert runtime_requirements(
        [
            "attrs>=23.2",
            "cattrs>=23.2",
            "cattrs>=23.2; extra == 'server'",
            'tomli; python_version < "3.11"',
            "attrs>=23.2",
            'pytest>=8; extra == "dev" and python_version >= "3.11"',
        ]
    ) == ["attrs>=23.2", "cattrs>=23.2", 'tomli; python_version < "3.11"']


def test_wheel_is_valid_deterministic_and_records_every_file(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "one")
    again = make_wheel(tmp_path / "two")
    assert wheel.filename == "floww-1.2.3-py3-none-any.whl"
    assert wheel.data == again.data and wheel.content_digest == again.content_digest

    archive = zipfile.ZipFile(io.BytesIO(wheel.data))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names == sorted(names)
    assert "floww/__init__.py" in names and "floww/py.typed" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}

    metadata = archive.read("floww-1.2.3.dist-info/METADATA").decode()
    assert "Name: floww\nVersion: 1.2.3\n" in metadata
    assert "Requires-Dist: attrs>=23.2" in metadata and "cronsim>=2.6" in metadata
    assert "starlette" not in metadata
    assert "Tag: py3-none-any" in archive.read("floww-1.2.3.dist-info/WHEEL").decode()

    rows = archive.read("floww-1.2.3.dist-info/RECORD").decode().splitlines()
    recorded = {row.split(",")[0] for row in rows}
    assert recorded == set(names)
    for row in rows:
        name, digest, size = row.split(",")
        if name.endswith("/RECORD"):
            assert digest == size == ""
            continue
        data = archive.read(name)
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        assert digest == "sha256=" + expected.decode() and int(size) == len(data)


# -- reproducible layer -------------------------------------------------------------------


def make_site(root: Path, mtime: int) -> Path:
    site = root / "site"
    (site / "six-1.16.0.dist-info").mkdir(parents=True)
    (site / "pkg" / "__pycache__").mkdir(parents=True)
    (site / "bin").mkdir()
    (site / "six.py").write_text("x = 1\n")
    (site / "pkg" / "tool.so").write_bytes(b"\x7fELF")
    (site / "pkg" / "tool.so").chmod(0o700)
    (site / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"\0")
    (site / "bin" / "six-script").write_text(f"#!{root}/python\n")
    info = site / "six-1.16.0.dist-info"
    (info / "direct_url.json").write_text(f'{{"url": "file://{root}"}}')
    (info / "RECORD").write_text(
        "six.py,sha256=a,6\nsix-1.16.0.dist-info/direct_url.json,sha256=b,9\n"
    )
    for path in site.rglob("*"):
        os.utime(path, (mtime, mtime))
    return site


def test_layer_is_reproducible_and_normalised(tmp_path: Path) -> None:
    first = _layer_tar(make_site(tmp_path / "a", mtime=1_000_000))
    second = _layer_tar(make_site(tmp_path / "bb", mtime=2_000_000))
    assert first == second

    with tarfile.open(fileobj=io.BytesIO(first)) as archive:
        members = archive.getmembers()
        record = archive.extractfile(f"{SITE_DIR.strip('/')}/six-1.16.0.dist-info/RECORD")
        assert record is not None
        record_text = record.read()
    names = [m.name for m in members]
    prefix = SITE_DIR.strip("/")
    assert names[:3] == ["opt", "opt/floww", prefix]
    assert names == sorted(names)
    assert f"{prefix}/six.py" in names and f"{prefix}/pkg/tool.so" in names
    assert not [n for n in names if "/bin" in n or "__pycache__" in n or "direct_url" in n]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    modes = {m.name: m.mode for m in members}
    assert modes[f"{prefix}/six.py"] == 0o644 and modes[f"{prefix}/pkg/tool.so"] == 0o755
    assert record_text == b"six.py,sha256=a,6\n"


# -- pip failures -------------------------------------------------------------------------


def test_a_missing_requirement_is_named_with_advice() -> None:
    error = pip_error(
        [
            "ERROR: Could not find a version that satisfies the requirement numpy==1.2.0 "
            "(from versions: 1.26.4, 2.0.0)",
            "ERROR: No matching distribution found for numpy==1.2.0",
        ],
        AMD64,
    )
    assert isinstance(error, InvalidInput)
    assert "numpy==1.2.0" in str(error) and "linux/amd64/Python 3.12" in str(error)
    assert "Pin a version of numpy" in str(error)


def test_an_unreachable_index_is_unavailable() -> None:
    error = pip_error(
        [
            "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError("
            '"Failed to establish a new connection: [Errno -3] Temporary failure in name '
            "resolution\")': /simple/six/",
            "ERROR: Could not find a version that satisfies the requirement six "
            "(from versions: none)",
            "ERROR: No matching distribution found for six",
        ],
        AMD64,
    )
    assert isinstance(error, Unavailable) and "cannot be reached" in str(error)


def test_conflicts_name_their_causes() -> None:
    error = pip_error(
        [
            "ERROR: Cannot install floww and attrs==22.1.0 because these package versions have "
            "conflicting dependencies.",
            "",
            "The conflict is caused by:",
            "    The user requested attrs==22.1.0",
            "    floww 0.1.0 depends on attrs>=23.2",
            "",
            "To fix this you could try to:",
            "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/",
        ],
        AMD64,
    )
    assert isinstance(error, InvalidInput)
    assert "The user requested attrs==22.1.0; floww 0.1.0 depends on attrs>=23.2" in str(error)


def test_other_failures_keep_pip_error_line() -> None:
    error = pip_error(["ERROR: Invalid requirement: 'six==='"], AMD64)
    assert isinstance(error, InvalidInput) and "Invalid requirement: 'six==='" in str(error)
