"""The build context of a Docker build: which files ``.dockerignore`` leaves in, and a digest of
them.

``.dockerignore`` follows Docker's rules: one pattern a line, ``#`` comments, ``*`` and ``?``
within a path segment, ``**`` across segments, ``[...]`` classes, ``\\`` escapes, ``!``
exceptions; the last matching line decides, and a pattern that matches a directory matches
everything below it. ``.git`` never belongs to the context.

``context_digest`` reads every file it keeps; it lets ``OSError`` through (the caller names the
file and what to do about it).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from floww.domain.canonical import canonical_json, sha256_hex

__all__ = ["DockerIgnore", "context_digest"]

_CHUNK = 1 << 20
_ALWAYS_SKIPPED = ".git"


class DockerIgnore:
    """The patterns of a ``.dockerignore`` file (see the module docstring for the rules)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._rules: list[tuple[re.Pattern[str], bool]] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            pattern = posixpath.normpath(line[1:].strip() if exception else line).lstrip("/")
            if pattern and pattern != ".":
                self._rules.append((_compile(pattern), exception))

    @classmethod
    def of_directory(cls, root: Path) -> DockerIgnore:
        """The rules of ``root/.dockerignore``; none when there is no such file."""
        path = root / ".dockerignore"
        return cls(path.read_text(errors="replace").splitlines() if path.is_file() else ())

    @property
    def has_exceptions(self) -> bool:
        return any(exception for _, exception in self._rules)

    def excludes(self, path: str) -> bool:
        """Whether the context path (relative, ``/``-separated) is left out of the context."""
        parts = path.strip("/").split("/")
        candidates = ["/".join(parts[: depth + 1]) for depth in range(len(parts))]
        excluded = False
        for pattern, exception in self._rules:
            if any(pattern.fullmatch(candidate) for candidate in candidates):
                excluded = not exception
        return excluded


def _compile(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 3 if pattern.startswith("**/", i) else 2
            out.append(".*" if i >= len(pattern) else "(?:.*/)?")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            if body[0] in "!^":
                body = "^" + body[1:]
            out.append("[" + body.replace("[", "\\[") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def context_digest(root: Path) -> str:
    """A sha256 over the path, kind, executable bit and content of every entry of the build
    context, in path order."""
    ignore = DockerIgnore.of_directory(root)
    entries: list[list[str]] = []
    for directory, dirnames, filenames in os.walk(root):
        relative = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        kept = []
        for name in sorted(dirnames):
            path = prefix + name
            if name == _ALWAYS_SKIPPED:
                continue
            if os.path.islink(os.path.join(directory, name)):
                filenames.append(name)  # a link to a directory is copied as a link
            elif not ignore.excludes(path):
                kept.append(name)
                entries.append([path, "dir", ""])
            elif ignore.has_exceptions:
                kept.append(name)  # an exception may bring back something below it
        dirnames[:] = kept
        for name in filenames:
            path = prefix + name
            if name != _ALWAYS_SKIPPED and not ignore.excludes(path):
                entries.append([path, *_fingerprint(Path(directory) / name)])
    return sha256_hex(canonical_json(sorted(entries)))


def _fingerprint(path: Path) -> tuple[str, str]:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return "link", os.readlink(path)
    if not stat.S_ISREG(info.st_mode):
        return "special", ""  # sockets and pipes: never read, they could block
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    kind = "exec" if info.st_mode & 0o111 else "file"
    return kind, digest.hexdigest()
