"""The floww home is its owner's only: folders 0700, files without group or other bits.

``make_private`` sets the process's umask to ``077`` (so what the server creates from then on,
SQLite's database and its WAL and shared-memory files included, is owner-only) and takes the
group and other bits off what an older version left under the home. Symbolic links are not
followed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["make_private", "not_private"]


def make_private(home: Path) -> None:
    """Make ``home`` and everything under it owner-only; create ``home`` when missing."""
    os.umask(0o077)
    home.mkdir(parents=True, exist_ok=True)
    for path in (home, *_tree(home)):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
            continue
        wanted = 0o700 if stat.S_ISDIR(info.st_mode) else info.st_mode & 0o700
        os.chmod(path, wanted)


def not_private(home: Path) -> list[str]:
    """What under ``home`` (itself included) some other user could read, write or enter."""
    return [
        f"{path} {stat.filemode(path.lstat().st_mode)}"
        for path in (home, *_tree(home))
        if not path.is_symlink() and path.lstat().st_mode & 0o077
    ]


def _tree(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        found.extend(base / name for name in (*dirs, *files))
    return found
