"""Load user code: import its entrypoint with a registry active, and return what it declared.

Importing is the only thing that runs. Every failure becomes a ``UserCodeError`` that names the
file (relative to the bundle root) and line to fix: a syntax error, an exception raised at
import (the deepest frame inside the bundle), an invalid declaration (the decorator line), a
duplicate trigger (the second declaration), a missing entrypoint.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from floww.domain.errors import InvalidInput, NotFound, UserCodeError
from floww.domain.model import CodeBundle, Definitions, TriggerSpec
from floww.sdk.bundle import bundle_from_directory, materialize
from floww.sdk.config import provider_configs
from floww.sdk.declarations import Declarations, DeclaredTrigger, collecting

__all__ = ["LoadedCode", "bundle_from_directory", "load_code"]

Handler = Callable[..., Any]


@attrs.frozen
class LoadedCode:
    """Code that loaded: its definitions (with the credential fields of each provider it
    declared) and the handler of each trigger."""

    digest: str
    root: Path
    definitions: Definitions
    handlers: Mapping[tuple[str, str, str, str], Handler] = attrs.field(repr=False)

    def handler_for(self, spec: TriggerSpec) -> Handler:
        """The handler of ``spec``, matched by identity; ``NotFound`` when the code has none."""
        try:
            return self.handlers[spec.identity]
        except KeyError:
            raise NotFound("trigger", spec.describe()) from None


# Importing mutates process state (sys.modules, sys.path): one load at a time.
_load_lock = threading.RLock()
_code_dirs: set[str] = set()


def load_code(
    code: CodeBundle,
    *,
    providers: Mapping[str, Mapping[str, str]] | None = None,
    cache_root: Path | None = None,
) -> LoadedCode:
    """Import ``code`` and collect its declarations; ``UserCodeError`` when that fails.

    ``providers`` (keyed ``type:alias``) are injected while the module is imported.
    """
    entry = PurePosixPath(code.entrypoint)
    if entry.suffix != ".py" or entry.is_absolute() or ".." in entry.parts:
        raise UserCodeError(f"entrypoint must be a relative .py path, not {code.entrypoint!r}")
    if entry.as_posix() not in code.files:
        raise UserCodeError(
            f"entrypoint {entry.as_posix()} not found in the code bundle", filename=str(entry)
        )
    root = materialize(code, cache_root)
    module_name = ".".join(entry.with_suffix("").parts)
    with _load_lock:
        _forget_loaded_code(str(root))
        with provider_configs(providers or {}), collecting() as declarations:
            try:
                importlib.import_module(module_name)
            except SyntaxError as exc:
                raise _syntax_error(exc, root, entry) from None
            except InvalidInput as exc:
                raise _import_error(exc, root, entry, str(exc)) from None
            except (Exception, SystemExit) as exc:
                message = f"{type(exc).__name__}: {exc}"
                raise _import_error(exc, root, entry, message) from None
    return _loaded(code.digest, root, declarations)


def _forget_loaded_code(root: str) -> None:
    """Drop modules of previously loaded bundles, so this import executes fresh code, and put
    ``root`` (alone of the bundles) on ``sys.path`` so sibling imports resolve inside it."""
    prefixes = tuple(d + os.sep for d in _code_dirs | {root})
    for name, module in list(sys.modules.items()):
        locations = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
        if any(isinstance(loc, str) and loc.startswith(prefixes) for loc in locations):
            del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p not in _code_dirs]
    sys.path.insert(0, root)
    _code_dirs.add(root)
    importlib.invalidate_caches()


def _loaded(digest: str, root: Path, declarations: Declarations) -> LoadedCode:
    handlers: dict[tuple[str, str, str, str], Handler] = {}
    first: dict[tuple[str, str, str, str], DeclaredTrigger] = {}
    for declared in declarations.triggers:
        identity = declared.spec.identity
        if identity in first:
            earlier = first[identity]
            raise UserCodeError(
                f"duplicate trigger {declared.spec.describe()}: already declared at"
                f" {_relative(earlier.filename, root)}:{earlier.lineno}",
                filename=_relative(declared.filename, root),
                lineno=declared.lineno,
            )
        first[identity] = declared
        handlers[identity] = declared.handler
    providers = dict(sorted(declarations.providers.items()))
    definitions = Definitions(
        triggers=tuple(d.spec for d in declarations.triggers),
        providers=tuple(providers),
        provider_fields={ref.key: fields for ref, fields in providers.items()},
    )
    return LoadedCode(digest, root, definitions, handlers)


def _syntax_error(exc: SyntaxError, root: Path, entry: PurePosixPath) -> UserCodeError:
    filename = _relative(exc.filename, root) if exc.filename else entry.as_posix()
    return UserCodeError(
        f"SyntaxError: {exc.msg}",
        filename=filename,
        lineno=exc.lineno,
        traceback=_traceback(exc, root),
    )


def _import_error(
    exc: BaseException, root: Path, entry: PurePosixPath, message: str
) -> UserCodeError:
    filename, lineno = entry.as_posix(), None
    for frame in traceback.extract_tb(exc.__traceback__):
        if _inside(frame.filename, root):
            filename, lineno = _relative(frame.filename, root), frame.lineno
    if isinstance(exc, UserCodeError) and exc.filename:
        filename, lineno, message = _relative(exc.filename, root), exc.lineno, exc.reason
    return UserCodeError(message, filename=filename, lineno=lineno, traceback=_traceback(exc, root))


def _traceback(exc: BaseException, root: Path) -> str:
    text = "".join(traceback.format_exception(exc))
    return text.replace(str(root) + os.sep, "")


def _inside(filename: str, root: Path) -> bool:
    return os.path.realpath(filename).startswith(os.path.realpath(root) + os.sep)


def _relative(filename: str, root: Path) -> str:
    if not _inside(filename, root):
        return filename
    return Path(os.path.relpath(os.path.realpath(filename), os.path.realpath(root))).as_posix()
