"""``ctx.log``: structured, captured log lines; and the capture of a handler's ``print()``.

Every line becomes ``{"at": ISO-8601 UTC, "level", "message", "fields"}``. Standard output is
routed per invocation (by ``ContextVar``), so concurrent invocations keep their own lines and
the worker protocol on the real stdout is never corrupted.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["ExecutionLog", "capture_stdout"]


class ExecutionLog:
    """The logger handed to handlers as ``ctx.log``.

    ``ctx.log.info("tick at %s", when, job="sync")``: positional arguments are %-formatted into
    the message, keyword arguments become ``fields``.
    """

    def __init__(self) -> None:
        self._lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def lines(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._lines)

    def debug(self, message: object, *args: object, **fields: object) -> None:
        self.record("debug", message, args, fields)

    def info(self, message: object, *args: object, **fields: object) -> None:
        self.record("info", message, args, fields)

    def warning(self, message: object, *args: object, **fields: object) -> None:
        self.record("warning", message, args, fields)

    def error(self, message: object, *args: object, **fields: object) -> None:
        self.record("error", message, args, fields)

    def exception(self, message: object, *args: object, **fields: object) -> None:
        """Log at ``error`` with the exception being handled in ``fields["traceback"]``."""
        if sys.exc_info()[0] is not None:
            fields = {**fields, "traceback": traceback.format_exc()}
        self.record("error", message, args, fields)

    def record(
        self, level: str, message: object, args: tuple[object, ...], fields: dict[str, object]
    ) -> None:
        line = {
            "at": datetime.now(UTC).isoformat(),
            "level": level,
            "message": _format(message, args),
            "fields": {str(k): _jsonable(v) for k, v in fields.items()},
        }
        with self._lock:
            self._lines.append(line)


def _format(message: object, args: tuple[object, ...]) -> str:
    text = str(message)
    if not args:
        return text
    try:
        return text % args
    except (TypeError, ValueError):
        return " ".join([text, *map(repr, args)])


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


class _LineSink(io.TextIOBase):
    """Turns written text into ``info`` lines of ``log``, one per complete line."""

    def __init__(self, log: ExecutionLog) -> None:
        self._log = log
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *complete, self._pending = self._pending.split("\n")
        for line in complete:
            self._log.record("info", line, (), {"stream": "stdout"})
        return len(text)

    def close_sink(self) -> None:
        if self._pending:
            self._log.record("info", self._pending, (), {"stream": "stdout"})
            self._pending = ""


_sink: ContextVar[_LineSink | None] = ContextVar("floww_stdout_sink", default=None)


class _StdoutRouter(io.TextIOBase):
    """``sys.stdout`` while invocations run: text goes to the current invocation's sink, or to
    the stream it replaced outside any invocation."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        sink = _sink.get()
        if sink is None:
            return self.fallback.write(text)
        return sink.write(text)

    def flush(self) -> None:
        if _sink.get() is None:
            self.fallback.flush()


_router_lock = threading.Lock()
_router_users = 0


@contextmanager
def capture_stdout(log: ExecutionLog) -> Iterator[None]:
    """Route ``print()`` of the enclosed code (this context only) into ``log``."""
    global _router_users
    sink = _LineSink(log)
    with _router_lock:
        if not isinstance(sys.stdout, _StdoutRouter):
            sys.stdout = _StdoutRouter(sys.stdout)
        _router_users += 1
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)
        sink.close_sink()
        with _router_lock:
            _router_users -= 1
            if _router_users == 0 and isinstance(sys.stdout, _StdoutRouter):
                sys.stdout = sys.stdout.fallback
