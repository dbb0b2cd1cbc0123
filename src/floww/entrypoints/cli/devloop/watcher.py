"""The project watcher of ``floww dev``: any change under the project root, once the files
have been quiet for ``quiet_ms`` (debounced; 10 ms by default: an editor's save, a write or
a write-and-rename, is over by then), calls ``on_change`` with the changed paths, relative to
the root. watchfiles looks for changes every ``quiet_ms`` and hands them over at the first look
that finds nothing new, so the reload starts one to two ``quiet_ms`` after the last write: this
wait is most of a save's time to serving. Virtualenvs, VCS data, caches and dot-directories are
ignored, like ``bundle_from_directory`` ignores them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

from floww.sdk.bundle import SKIPPED_DIRECTORIES

__all__ = ["ProjectFilter", "ProjectWatcher"]


class ProjectFilter(DefaultFilter):
    """watchfiles' default filter (editor swap files, ``*.pyc``...) plus: nothing inside a
    skipped or dot-directory of the project."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self._root = root.resolve()

    def __call__(self, change: Change, path: str) -> bool:
        try:
            parts = Path(path).resolve().relative_to(self._root).parts
        except ValueError:
            return False
        if any(p in SKIPPED_DIRECTORIES or p.startswith(".") for p in parts[:-1]):
            return False
        return bool(super().__call__(change, path))


class ProjectWatcher:
    def __init__(
        self,
        root: Path,
        on_change: Callable[[list[str]], object],
        *,
        quiet_ms: int = 10,
    ) -> None:
        self._root = root.resolve()
        self._on_change = on_change
        self._quiet_ms = quiet_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="floww-dev-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for changes in watch(
            self._root,
            watch_filter=ProjectFilter(self._root),
            step=self._quiet_ms,
            stop_event=self._stop,
            rust_timeout=500,
            raise_interrupt=False,
        ):
            # Editors and tools write temporary files that are gone by now: name only what is
            # there (a deletion still triggers the reload, it is just not listed).
            changed = sorted(
                {
                    Path(p).resolve().relative_to(self._root).as_posix()
                    for _, p in changes
                    if Path(p).exists()
                }
            )
            self._on_change(changed)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
