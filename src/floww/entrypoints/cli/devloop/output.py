"""What ``floww dev`` prints: one line per event, the handler's logs indented below it, the
user-code frames of a failure, and the outcome of each reload.

Every function returns text; ``DevOutput`` writes it through an injected ``echo`` under a
lock, so lines of events that finish together never interleave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from floww.domain.cron import CronSchedule
from floww.domain.errors import InvalidInput, UserCodeError
from floww.domain.model import InvocationResult, LogLine, TriggerSpec

__all__ = [
    "DevOutput",
    "event_line",
    "failure_lines",
    "listening_lines",
    "log_lines",
    "outcome_of",
    "reload_error_lines",
    "trigger_label",
    "user_frames",
]

INDENT = "    "
MAX_FRAME_LINES = 8


def trigger_label(spec: TriggerSpec, method: str | None = None) -> str:
    """``POST /hello/{name}``, ``cron */5 * * * *``, ``manual greet`` or ``github:default push``."""
    if spec.provider.type == "builtin":
        if spec.trigger_type == "webhook":
            methods = spec.input.get("methods") or ["POST"]
            verb = (method or ",".join(str(m) for m in methods)).upper()
            return f"{verb} {spec.input.get('path', '')}"
        if spec.trigger_type == "cron":
            return f"cron {spec.input.get('expression', '')}"
        if spec.trigger_type == "manual":
            return f"manual {spec.input.get('name', '')}"
    return f"{spec.provider.key} {spec.trigger_type}"


def outcome_of(result: InvocationResult) -> str:
    """``ok``; ``failed <ErrorType>`` when the handler raised."""
    if result.ok:
        return "ok"
    kind = result.error.type if result.error else "Error"
    return f"failed {kind}"


def event_line(
    at: datetime, label: str, outcome: str, duration_ms: float, *, source: str = ""
) -> str:
    """``14:03:22  POST /hello/{name}  ok  12 ms  (local)``."""
    suffix = f"  ({source})" if source else ""
    clock = at.astimezone().strftime("%H:%M:%S")
    return f"{clock}  {label}  {outcome}  {_duration(duration_ms)} ms{suffix}"


def _duration(ms: float) -> str:
    return f"{ms:.1f}" if ms < 10 else f"{ms:.0f}"


def log_lines(logs: tuple[LogLine, ...]) -> list[str]:
    """The handler's log lines, indented: ``    info  saying hi to ada  path=/hello/ada``."""
    out = []
    for line in logs:
        fields = "".join(f"  {k}={v}" for k, v in line.fields.items())
        out.append(f"{INDENT}{line.level.lower():<5} {line.message}{fields}")
    return out


def user_frames(traceback: str, limit: int = MAX_FRAME_LINES) -> list[str]:
    """The end of ``traceback`` from the first frame of the user's code (a bundle-relative
    file name) on; the last ``limit`` lines of it, or of the whole text when it has none."""
    lines = [line for line in traceback.rstrip().splitlines() if line.strip()]
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith('File "'):
            name = stripped[len('File "') :].split('"', 1)[0]
            if not name.startswith(("/", "<")) and ":\\" not in name:
                lines = lines[index:]
                break
    return lines[-limit:]


def failure_lines(result: InvocationResult) -> list[str]:
    if result.ok or result.error is None:
        return []
    frames = user_frames(result.error.traceback) if result.error.traceback else []
    if not frames:
        frames = [f"{result.error.type}: {result.error.message}"]
    return [INDENT + line.rstrip() for line in frames]


def reload_error_lines(error: UserCodeError) -> list[str]:
    """``main.py:12: SyntaxError: invalid syntax`` then the user-code frames, indented."""
    lines = [str(error)]
    if error.traceback:
        lines += [INDENT + line.rstrip() for line in user_frames(error.traceback)]
    return lines


class DevOutput:
    """Writes the session's lines; ``echo`` is ``click.echo`` in the command, a list's
    ``append`` in tests."""

    def __init__(self, echo: Callable[[str], object]) -> None:
        self._echo = echo
        self._lock = threading.Lock()

    def lines(self, lines: list[str]) -> None:
        with self._lock:
            for line in lines:
                self._echo(line)

    def line(self, line: str) -> None:
        self.lines([line])

    def event(
        self,
        at: datetime,
        spec: TriggerSpec,
        result: InvocationResult,
        *,
        method: str | None = None,
        source: str = "",
        note: str | None = None,
    ) -> None:
        head = event_line(
            at, trigger_label(spec, method), outcome_of(result), result.duration_ms, source=source
        )
        extra = [f"{INDENT}! {note}"] if note else []
        self.lines([head, *log_lines(result.logs), *failure_lines(result), *extra])


def listening_lines(
    server_urls: Sequence[str],
    triggers: Sequence[TriggerSpec],
    local_url: str | None,
    now: datetime,
) -> list[str]:
    """What the session listens to: each webhook on the server and on this machine, each
    cron schedule with its next fire time, other triggers by name."""
    lines = ["Listening:"]
    for url in server_urls:
        lines.append(f"{INDENT}{url}")
    for spec in triggers:
        builtin = spec.provider.type == "builtin"
        if builtin and spec.trigger_type == "webhook" and local_url:
            for method in spec.input.get("methods") or ["POST"]:
                path = spec.input.get("path", "")
                lines.append(f"{INDENT}{str(method).upper()} {local_url}{path}  (local)")
        elif builtin and spec.trigger_type == "cron":
            expression = str(spec.input.get("expression", ""))
            try:
                upcoming = CronSchedule.parse(expression).next_after(now)
                when = f"  next at {upcoming.astimezone():%H:%M:%S}"
            except InvalidInput:
                when = ""
            lines.append(f"{INDENT}cron {expression}{when}  (local)")
        elif builtin and spec.trigger_type == "manual":
            lines.append(f"{INDENT}manual {spec.input.get('name', '')}")
        elif not builtin:
            lines.append(f"{INDENT}{trigger_label(spec)}  (through the server)")
    if len(lines) == 1:
        lines.append(f"{INDENT}nothing: the code declares no triggers")
    return lines
