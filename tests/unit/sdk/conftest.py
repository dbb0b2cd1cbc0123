from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from floww.domain.model import CodeBundle
from floww.sdk.collector import LoadedCode, load_code
from floww.sdk.runtime import Runtime

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

MakeBundle = Callable[..., CodeBundle]
Load = Callable[..., LoadedCode]


def make_bundle(files: dict[str, str], entrypoint: str = "main.py") -> CodeBundle:
    return CodeBundle(
        entrypoint=entrypoint,
        files={name: textwrap.dedent(text).lstrip("\n") for name, text in files.items()},
    )


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "code-cache"


@pytest.fixture
def load(cache_root: Path) -> Load:
    def load_files(
        files: dict[str, str], entrypoint: str = "main.py", **kwargs: object
    ) -> LoadedCode:
        return load_code(make_bundle(files, entrypoint), cache_root=cache_root, **kwargs)  # type: ignore[arg-type]

    return load_files


@pytest.fixture
def runtime(cache_root: Path) -> Runtime:
    return Runtime(cache_root=cache_root)
