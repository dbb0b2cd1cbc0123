"""The Lambda entry reporting an answer it was asked to report (``execution.report``), against a
loopback HTTP server scripted with the platform's answers: the report carries the execution's
token and the runtime's answer; an unreachable platform (503) is tried again, three attempts
in all; a refusal (409) is not; a request without ``report`` posts nothing. The platform's
own handling of reports is ``test_lambda_async.py``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import pytest

from floww.domain.errors import InvalidInput, Unavailable
from floww.sdk.lambda_entry import LambdaEntry, report_answer
from floww.sdk.wire import invocation_to_wire
from floww.testing.contracts.function_host import hook, invocation, webhook_event

pytestmark = pytest.mark.integration


@attrs.define
class Platform:
    statuses: list[int] = attrs.field(factory=list)  # the next answers; 200 when none left
    posts: list[tuple[str, str, Any]] = attrs.field(factory=list)  # path, auth, body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    platform: Platform

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.platform.posts.append((self.path, self.headers.get("Authorization", ""), body))
        status = self.platform.statuses.pop(0) if self.platform.statuses else 200
        answer = json.dumps({"error": {"type": "X", "message": f"status {status}"}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def platform() -> Iterator[tuple[str, Platform]]:
    state = Platform()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"platform": state}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def request_to(url: str, *, report: bool) -> dict[str, Any]:
    call = invocation(hook("/hello/{name}"), webhook_event("/hello/ada", name="ada"))
    request = invocation_to_wire(call)  # files included: no code fetch needed
    execution = {**request["execution"], "api_url": url, "token": "tok-1"}
    if report:
        execution["report"] = True
    return {**request, "execution": execution}


def test_the_answer_is_reported_with_the_execution_token(platform: tuple[str, Platform]) -> None:
    url, state = platform
    answer = LambdaEntry().handle(request_to(url, report=True))
    assert answer["ok"] is True
    ((path, auth, body),) = state.posts
    assert (path, auth) == ("/api/executions/ex_1/report", "Bearer tok-1")
    assert body == {"result": answer}


def test_no_report_is_asked_none_is_sent(platform: tuple[str, Platform]) -> None:
    url, state = platform
    assert LambdaEntry().handle(request_to(url, report=False))["ok"] is True
    assert state.posts == []


def test_an_unreachable_platform_is_tried_again_a_refusal_is_not(
    platform: tuple[str, Platform],
) -> None:
    url, state = platform
    request = request_to(url, report=True)
    answer = {"ok": True, "result": 1, "logs": [], "duration_ms": 1.0}
    waits: list[float] = []
    state.statuses = [503, 503]
    report_answer(request, answer, sleep=waits.append)
    assert len(state.posts) == 3 and waits == [1.0, 2.0]

    state.posts.clear()
    state.statuses = [503, 503, 503]
    with pytest.raises(Unavailable):
        report_answer(request, answer, sleep=waits.append)
    assert len(state.posts) == 3

    state.posts.clear()
    state.statuses = [409]
    with pytest.raises(InvalidInput, match="409"):
        report_answer(request, answer, sleep=waits.append)
    assert len(state.posts) == 1
    # The handler itself never raises for it: the invocation still answers.
    state.statuses = [409]
    assert LambdaEntry().handle(request)["ok"] is True
