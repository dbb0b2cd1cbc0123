"""What ``floww dev`` prints."""

from __future__ import annotations

from datetime import UTC, datetime

from floww.domain.errors import UserCodeError
from floww.domain.model import ErrorInfo, InvocationResult, LogLine, ProviderRef, TriggerSpec
from floww.entrypoints.cli.devloop import DevOutput
from floww.entrypoints.cli.devloop.output import (
    event_line,
    listening_lines,
    reload_error_lines,
    trigger_label,
    user_frames,
)

AT = datetime(2024, 1, 1, 10, 0, 7, tzinfo=UTC)
HOOK = TriggerSpec(
    ProviderRef("builtin"), "webhook", {"path": "/hello/{name}", "methods": ["POST"]}
)
CRON = TriggerSpec(ProviderRef("builtin"), "cron", {"expression": "*/5 * * * *"})
PUSH = TriggerSpec(ProviderRef("github"), "push", {"owner": "acme"})

TRACEBACK = """Traceback (most recent call last):
  File "/site-packages/floww/sdk/runtime.py", line 100, in _invoke
    answer = handler(ctx, event)
  File "main.py", line 12, in hello
    1 / 0
ZeroDivisionError: division by zero
"""


def test_trigger_labels() -> None:
    assert trigger_label(HOOK, "post") == "POST /hello/{name}"
    assert trigger_label(HOOK) == "POST /hello/{name}"
    assert trigger_label(CRON) == "cron */5 * * * *"
    assert trigger_label(PUSH) == "github:default push"


def test_one_line_per_event_with_logs_indented_below() -> None:
    lines: list[str] = []
    logs = (LogLine(AT, "INFO", "saying hi to ada", {"path": "/hello/ada"}),)
    DevOutput(lines.append).event(AT, HOOK, InvocationResult(True, {}, logs, 12.4), method="POST")

    clock = AT.astimezone().strftime("%H:%M:%S")
    assert lines == [
        f"{clock}  POST /hello/{{name}}  ok  12 ms",
        "    info  saying hi to ada  path=/hello/ada",
    ]


def test_a_failure_shows_its_type_and_the_user_frames_only() -> None:
    lines: list[str] = []
    error = ErrorInfo("ZeroDivisionError", "division by zero", TRACEBACK)
    result = InvocationResult(False, None, (), 3.0, error)
    DevOutput(lines.append).event(AT, CRON, result, source="local")

    assert lines[0].endswith("  cron */5 * * * *  failed ZeroDivisionError  3.0 ms  (local)")
    assert lines[1:] == [
        '      File "main.py", line 12, in hello',
        "        1 / 0",
        "    ZeroDivisionError: division by zero",
    ]


def test_user_frames_keeps_the_tail_when_no_user_frame_exists() -> None:
    assert user_frames("a\nb\nc\n", limit=2) == ["b", "c"]


def test_reload_error_names_file_and_line() -> None:
    error = UserCodeError("SyntaxError: invalid syntax", filename="main.py", lineno=12)
    assert reload_error_lines(error) == ["main.py:12: SyntaxError: invalid syntax"]


def test_event_line_rounds_duration() -> None:
    assert event_line(AT, "manual greet", "ok", 0.44).endswith("  manual greet  ok  0.4 ms")
    assert event_line(AT, "manual greet", "ok", 12.6).endswith("  manual greet  ok  13 ms")


def test_listening_lists_server_and_local_endpoints_and_next_cron() -> None:
    server = ("POST http://floww.test/webhook/wf_1/hello/{name}",)
    lines = listening_lines(server, [HOOK, CRON, PUSH], "http://127.0.0.1:8765", AT)

    nxt = datetime(2024, 1, 1, 10, 5, tzinfo=UTC).astimezone().strftime("%H:%M:%S")
    assert lines == [
        "Listening:",
        "    POST http://floww.test/webhook/wf_1/hello/{name}",
        "    POST http://127.0.0.1:8765/hello/{name}  (local)",
        f"    cron */5 * * * *  next at {nxt}  (local)",
        "    github:default push  (through the server)",
    ]
