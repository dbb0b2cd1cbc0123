from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww import Context, CronEvent, ManualEvent, ProviderEvent, Response, WebhookEvent
from floww.domain.errors import InvalidInput, Unauthenticated, Unavailable
from floww.domain.model import ProviderRef, TriggerSpec
from floww.sdk.events import event_from_wire
from floww.sdk.kv import HttpKvBackend, InMemoryKvBackend, KvStore
from floww.sdk.logs import ExecutionLog, capture_stdout
from floww.sdk.response import result_to_wire

WEBHOOK = TriggerSpec(ProviderRef("builtin"), "webhook", {"path": "/x", "methods": ["POST"]})
CRON = TriggerSpec(ProviderRef("builtin"), "cron", {"expression": "* * * * *"})
MANUAL = TriggerSpec(ProviderRef("builtin"), "manual", {"name": "m"})
PUSH = TriggerSpec(ProviderRef("github"), "push", {"owner": "a", "repository": "b"})

text = st.text(max_size=10)


@given(
    st.sampled_from(["GET", "POST"]),
    st.dictionaries(text, text, max_size=3),
    st.binary(max_size=30),
    st.dictionaries(text, text, max_size=3),
)
def test_webhook_events_round_trip(
    method: str, headers: dict[str, str], raw: bytes, params: dict[str, str]
) -> None:
    event = WebhookEvent(method, "/x", headers, {"q": ["1"]}, {"a": 1}, raw, params)
    assert event_from_wire(WEBHOOK, json.loads(json.dumps(event.to_wire()))) == event


def test_other_events_round_trip() -> None:
    cron = CronEvent(datetime(2024, 1, 2, 3, 4, tzinfo=UTC), "* * * * *")
    manual = ManualEvent({"x": [1]}, "user-1")
    push = ProviderEvent("push", {"ref": "main"})
    assert event_from_wire(CRON, cron.to_wire()) == cron
    assert event_from_wire(MANUAL, manual.to_wire()) == manual
    assert event_from_wire(PUSH, push.to_wire()) == push
    naive = event_from_wire(CRON, {"scheduled_time": "2024-01-02T03:04:00"})
    assert isinstance(naive, CronEvent) and naive.scheduled_time.tzinfo is UTC
    with pytest.raises(InvalidInput):
        event_from_wire(CRON, {})
    with pytest.raises(InvalidInput):
        event_from_wire(WEBHOOK, {"method": "POST", "path": "/x", "raw_body_b64": "%%%"})


def test_webhook_header_lookup_ignores_case() -> None:
    event = WebhookEvent("POST", "/x", {"Content-Type": "text/plain"})
    assert event.header("content-type") == "text/plain"
    assert event.header("x-missing", "d") == "d"


def test_results_on_the_wire() -> None:
    assert result_to_wire({"a": [1, None]}, "h") == {"a": [1, None]}
    assert result_to_wire("plain", "h") == "plain"
    wire = result_to_wire(Response("created", status=201, headers={"x": "y"}), "h")
    assert wire == {"$response": {"status": 201, "headers": {"x": "y"}, "body": "created"}}
    assert Response.from_wire(wire) == Response("created", 201, {"x": "y"})
    assert Response.from_wire({"a": 1}) is None
    with pytest.raises(TypeError, match="handler my_handler"):
        result_to_wire({1, 2}, "my_handler")
    with pytest.raises(TypeError, match="status"):
        result_to_wire(Response(status=42), "h")
    with pytest.raises(TypeError):
        result_to_wire(float("nan"), "h")


def test_log_lines_are_structured() -> None:
    log = ExecutionLog()
    log.info("tick at %s", "noon", job="sync", when=datetime(2024, 1, 1, tzinfo=UTC))
    log.debug("odd %d", "not a number")
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("failed")
    lines = log.lines
    assert [(line["level"], line["message"]) for line in lines] == [
        ("info", "tick at noon"),
        ("debug", "odd %d 'not a number'"),
        ("error", "failed"),
    ]
    assert lines[0]["fields"] == {"job": "sync", "when": "2024-01-01T00:00:00+00:00"}
    assert "KeyError" in lines[2]["fields"]["traceback"]
    assert datetime.fromisoformat(lines[0]["at"]).tzinfo is not None


def test_print_is_captured_only_inside_the_capture(capsys: pytest.CaptureFixture[str]) -> None:
    log = ExecutionLog()
    with capture_stdout(log):
        print("one\ntwo")
        print("three", end="")
    print("outside")
    assert [line["message"] for line in log.lines] == ["one", "two", "three"]
    assert capsys.readouterr().out == "outside\n"


def test_kv_store_over_memory() -> None:
    kv = KvStore(InMemoryKvBackend())
    assert kv.get("missing", 7) == 7
    kv.set("a/1", {"n": 1})
    kv.set("a/2", [2])
    kv.set("b", "x")
    kv.delete("b")
    kv.delete("never-there")
    assert kv.list("a/") == {"a/1": {"n": 1}, "a/2": [2]}
    with pytest.raises(InvalidInput):
        kv.set("c", object())
    with pytest.raises(InvalidInput):
        kv.get("")


class RecordingTransport:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.requests: list[urllib.request.Request] = []

    def __call__(self, request: urllib.request.Request, timeout: float) -> bytes:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return json.dumps(answer).encode() if answer is not None else b""


def _http_error(status: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://api", status, "x", {}, io.BytesIO(b"nope"))  # type: ignore[arg-type]


def test_http_kv_backend_speaks_the_api() -> None:
    transport = RecordingTransport(
        [
            None,
            {"value": 3},
            _http_error(404),
            {"items": [{"key": "a b", "value": 1}]},
            None,
            _http_error(404),
        ]
    )
    kv = KvStore(HttpKvBackend("http://api/", "tok", transport=transport))
    kv.set("a b", 3)
    assert kv.get("a b") == 3
    assert kv.get("gone", "d") == "d"
    assert kv.list("a") == {"a b": 1}
    kv.delete("a b")
    kv.delete("gone")

    first = transport.requests[0]
    assert (first.get_method(), first.full_url) == ("PUT", "http://api/api/kv/a%20b")
    assert first.get_header("Authorization") == "Bearer tok"
    assert json.loads(first.data) == {"value": 3}  # type: ignore[arg-type]
    assert transport.requests[3].full_url == "http://api/api/kv?prefix=a"
    assert transport.requests[4].get_method() == "DELETE"


def test_http_kv_backend_maps_failures() -> None:
    kv = KvStore(
        HttpKvBackend(
            "http://api",
            "tok",
            transport=RecordingTransport(
                [_http_error(401), _http_error(503), urllib.error.URLError("down")]
            ),
        )
    )
    with pytest.raises(Unauthenticated):
        kv.get("a")
    with pytest.raises(Unavailable):
        kv.get("a")
    with pytest.raises(Unavailable):
        kv.set("a", 1)


def test_local_context_for_users_tests() -> None:
    ctx = Context.local(secrets={"stripe": {"api_key": "sk"}})
    ctx.kv.set("k", 1)
    ctx.log.info("hi")
    assert ctx.kv.get("k") == 1
    assert ctx.secrets["stripe"]["api_key"] == "sk"
    assert [line["message"] for line in ctx.log.lines] == ["hi"]
