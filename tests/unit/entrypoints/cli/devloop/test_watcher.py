"""What the project watcher ignores."""

from __future__ import annotations

from pathlib import Path

from watchfiles import Change

from floww.entrypoints.cli.devloop import ProjectFilter


def test_ignores_virtualenvs_vcs_caches_and_dot_directories(tmp_path: Path) -> None:
    keep = ProjectFilter(tmp_path)
    changed = Change.modified

    assert keep(changed, str(tmp_path / "main.py"))
    assert keep(changed, str(tmp_path / "lib" / "helpers.py"))
    assert keep(changed, str(tmp_path / "requirements.txt"))
    for ignored in (
        ".venv/lib/x.py",
        "venv/lib/x.py",
        ".git/index",
        "lib/__pycache__/helpers.cpython-312.pyc",
        "node_modules/a/b.js",
        ".cache/thing.py",
        "pkg/.hidden/x.py",
    ):
        assert not keep(changed, str(tmp_path / ignored)), ignored
    assert not keep(changed, "/somewhere/else/main.py")
