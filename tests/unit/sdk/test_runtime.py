from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from floww.domain.model import CodeBundle, ProviderField, ProviderRef, TriggerSpec
from floww.sdk.kv import InMemoryKvBackend
from floww.sdk.runtime import Runtime, lambda_handler
from floww.sdk.wire import code_to_wire, definitions_from_wire, result_from_wire, spec_to_wire

from .conftest import make_bundle

SOURCE = """
import asyncio
from floww import Builtin, GitHub, Response, Secret

builtin = Builtin()
github = GitHub()
stripe = Secret("stripe", fields=("api_key",))

@builtin.webhook("/orders/{order_id}", methods=["POST"])
def order(ctx, event):
    print("got order", event.path_params["order_id"])
    print("partial", end="")
    ctx.log.warning("body %s", event.body["qty"], raw=event.raw_body.decode())
    return Response({"id": event.path_params["order_id"]}, status=201, headers={"x-n": 1})

@builtin.manual("async")
async def later(ctx, event):
    await asyncio.sleep(0)
    ctx.kv.set("seen", ctx.kv.get("seen", 0) + 1)
    return {"input": event.input, "by": event.triggered_by, "exec": ctx.execution_id,
            "token": github.config["token"], "key": stripe["api_key"],
            "secrets": dict(ctx.secrets["stripe"]), "workflow": ctx.workflow_id}

@builtin.manual("fails")
def fails(ctx, event):
    ctx.log.info("about to fail")
    raise ValueError("no " + str(event.input))

@builtin.manual("bad_result")
def bad_result(ctx, event):
    return {"when": object()}

@builtin.cron("0 * * * *")
def hourly(ctx, event):
    return event.scheduled_time.isoformat()

@github.on_push(owner="acme", repository="api")
def pushed(ctx, event):
    return [event.type, event.payload["ref"]]
"""

PROVIDERS = {"github:default": {"token": "gh"}, "secret:stripe": {"api_key": "sk"}}
EXECUTION = {
    "id": "ex1",
    "token": "t",
    "api_url": "http://unused",
    "deadline_ms": 5000,
    "workflow_id": "wf1",
}


def _code() -> CodeBundle:
    return make_bundle({"main.py": SOURCE})


def _manual(name: str) -> dict[str, Any]:
    return spec_to_wire(TriggerSpec(ProviderRef("builtin"), "manual", {"name": name}))


def _invoke(
    runtime: Runtime,
    trigger: dict[str, Any],
    event: dict[str, Any],
    *,
    files: bool = True,
    kv: Any = None,
) -> dict[str, Any]:
    payload = {
        "type": "invoke_trigger",
        "code": code_to_wire(_code(), include_files=files),
        "trigger": trigger,
        "event": event,
        "providers": PROVIDERS,
        "execution": EXECUTION,
    }
    answer = runtime.handle(payload, kv_backend=kv or InMemoryKvBackend())
    json.dumps(answer)  # the answer always travels as JSON
    return answer


def test_get_definitions(runtime: Runtime) -> None:
    answer = runtime.handle(
        {"type": "get_definitions", "code": code_to_wire(_code()), "providers": {}}
    )
    assert answer["ok"] is True
    assert answer["triggers"][0] == {
        "provider": {"type": "builtin", "alias": "default"},
        "trigger_type": "webhook",
        "input": {"path": "/orders/{order_id}", "methods": ["POST"]},
    }
    assert [t["trigger_type"] for t in answer["triggers"]] == [
        "webhook",
        "manual",
        "manual",
        "manual",
        "cron",
        "push",
    ]
    assert [(p["type"], p["alias"]) for p in answer["providers"]] == [
        ("github", "default"),
        ("secret", "stripe"),
    ]
    assert [f["name"] for f in answer["providers"][1]["fields"]] == ["api_key"]
    definitions = definitions_from_wire(json.loads(json.dumps(answer)))
    assert definitions.provider_fields["secret:stripe"] == (
        ProviderField("api_key", label="api_key", secret=True),
    )


def test_get_definitions_of_broken_code(runtime: Runtime) -> None:
    code = make_bundle({"main.py": "x = 1\nraise RuntimeError('nope')\n"})
    answer = runtime.handle(
        {"type": "get_definitions", "code": code_to_wire(code), "providers": {}}
    )
    assert answer["ok"] is False
    error = answer["error"]
    assert (error["type"], error["filename"], error["lineno"]) == ("UserCodeError", "main.py", 2)
    assert error["message"] == "RuntimeError: nope"
    assert "RuntimeError" in error["traceback"]


def test_webhook_with_response_logs_and_print(runtime: Runtime) -> None:
    answer = _invoke(
        runtime,
        spec_to_wire(
            TriggerSpec(
                ProviderRef("builtin"),
                "webhook",
                {"path": "/orders/{order_id}", "methods": ["POST"]},
            )
        ),
        {
            "method": "POST",
            "path": "/orders/7",
            "headers": {"content-type": "application/json"},
            "query": {},
            "body": {"qty": 3},
            "raw_body_b64": "eyJxdHkiOiAzfQ==",
            "path_params": {"order_id": "7"},
        },
    )
    assert answer["ok"] is True, answer
    assert answer["result"] == {
        "$response": {"status": 201, "headers": {"x-n": "1"}, "body": {"id": "7"}}
    }
    assert [(line["level"], line["message"]) for line in answer["logs"]] == [
        ("info", "got order 7"),
        ("warning", "body 3"),
        ("info", "partial"),
    ]
    assert answer["logs"][1]["fields"] == {"raw": '{"qty": 3}'}
    assert answer["logs"][0]["at"].endswith("+00:00")
    assert answer["duration_ms"] >= 0


def test_async_handler_with_providers_kv_and_cached_code(runtime: Runtime) -> None:
    kv = InMemoryKvBackend()
    first = _invoke(runtime, _manual("async"), {"input": {"n": 1}, "triggered_by": "ada"}, kv=kv)
    second = _invoke(runtime, _manual("async"), {"input": None}, files=False, kv=kv)

    assert first["ok"] and second["ok"], (first, second)
    assert first["result"] == {
        "input": {"n": 1},
        "by": "ada",
        "exec": "ex1",
        "token": "gh",
        "key": "sk",
        "secrets": {"api_key": "sk"},
        "workflow": "wf1",
    }
    assert kv.get("seen") == 2


def test_uncached_code_without_files(runtime: Runtime) -> None:
    answer = _invoke(runtime, _manual("async"), {}, files=False)
    assert answer["ok"] is False
    assert answer["error"]["type"] == "CodeNotCached"


def test_handler_exception_is_reported_with_traceback_and_logs(runtime: Runtime) -> None:
    answer = _invoke(runtime, _manual("fails"), {"input": "luck"})
    assert answer["ok"] is False
    assert answer["error"]["type"] == "ValueError"
    assert answer["error"]["message"] == "no luck"
    assert 'File "main.py", line' in answer["error"]["traceback"]
    assert "floww/sdk" not in answer["error"]["traceback"]
    assert [line["message"] for line in answer["logs"]] == ["about to fail"]
    result = result_from_wire(answer)
    assert result.error is not None and result.error.type == "ValueError"


def test_unserialisable_result_names_the_handler(runtime: Runtime) -> None:
    answer = _invoke(runtime, _manual("bad_result"), {})
    assert answer["error"]["type"] == "TypeError"
    assert "bad_result" in answer["error"]["message"]


def test_cron_and_provider_events(runtime: Runtime) -> None:
    cron = _invoke(
        runtime,
        spec_to_wire(TriggerSpec(ProviderRef("builtin"), "cron", {"expression": "0 * * * *"})),
        {"scheduled_time": "2024-05-01T10:00:00Z", "expression": "0 * * * *"},
    )
    assert cron["result"] == "2024-05-01T10:00:00+00:00"
    push = _invoke(
        runtime,
        spec_to_wire(
            TriggerSpec(ProviderRef("github"), "push", {"repository": "api", "owner": "acme"})
        ),
        {"type": "push", "payload": {"ref": "refs/heads/main"}},
    )
    assert push["result"] == ["push", "refs/heads/main"]


def test_unknown_trigger_and_bad_requests(runtime: Runtime) -> None:
    unknown = _invoke(runtime, _manual("nope"), {})
    assert unknown["error"]["type"] == "NotFound"
    assert runtime.handle({"type": "explode"})["error"]["type"] == "InvalidRequest"
    assert runtime.handle("not a dict")["error"]["type"] == "InvalidRequest"
    bad_digest = {"digest": "sha256:00", "entrypoint": "main.py", "files": {"main.py": ""}}
    answer = runtime.handle({"type": "get_definitions", "code": bad_digest})
    assert answer["error"]["type"] == "InvalidRequest"


def test_ping_answers_pong_without_code(runtime: Runtime) -> None:
    assert runtime.handle({"type": "ping"}) == {"ok": True, "pong": True}
    assert lambda_handler({"type": "ping"}) == {"ok": True, "pong": True}
    assert runtime.handle({"type": "pong"})["error"]["type"] == "InvalidRequest"


def test_async_handler_called_from_a_running_loop(runtime: Runtime) -> None:
    import asyncio

    async def call() -> dict[str, Any]:
        return _invoke(runtime, _manual("async"), {"input": 1})

    assert asyncio.run(call())["result"]["input"] == 1


def test_worker_loop_speaks_json_lines(tmp_path: Path) -> None:
    code = make_bundle(
        {
            "main.py": "from floww import Builtin\nprint('import noise')\n"
            "@Builtin().manual\ndef hi(ctx, event):\n    print('noise')\n    return 'hi'\n"
        }
    )
    requests = [
        {"type": "ping"},
        {"type": "get_definitions", "code": code_to_wire(code), "providers": {}},
        {
            "type": "invoke_trigger",
            "code": code_to_wire(code, include_files=False),
            "trigger": _manual("hi"),
            "event": {},
            "providers": {},
            "execution": EXECUTION,
        },
    ]
    stdin = "\n".join(json.dumps(r) for r in requests) + "\nnot json\n"
    done = subprocess.run(
        [sys.executable, "-m", "floww.sdk.runtime"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        check=True,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert answers[0] == {"ok": True, "pong": True}
    assert [a["ok"] for a in answers[1:]] == [True, True, False]
    assert answers[2]["result"] == "hi"
    assert [line["message"] for line in answers[2]["logs"]] == ["noise"]
    assert answers[3]["error"]["type"] == "InvalidRequest"
    assert "import noise" in done.stderr


def test_the_line_codec_answers_as_the_standard_library_would() -> None:
    """A request or answer orjson reads or writes differently (or refuses) goes through the
    standard library: the lines are the same JSON with or without orjson installed."""
    from floww.sdk import runtime

    for answer in [
        {"ok": True, "result": {"message": "hi é 🙂"}, "logs": [], "duration_ms": 0.25},
        {"ok": True, "result": None, "logs": [{"fields": {}}], "duration_ms": 1e300},
        {"ok": True, "result": {1: "int key"}, "logs": [], "duration_ms": 0},
        {"ok": True, "result": [True, False, -3, 2.5, "", []], "logs": []},
    ]:
        line = runtime._dumps(answer)
        assert json.loads(line) == json.loads(json.dumps(answer, ensure_ascii=False))
        assert line.decode() == line.decode().strip() and b"\n" not in line
    for refused in [{"ok": True, "duration_ms": float("nan")}, {"ok": True, "s": "\ud800"}]:
        failed = json.loads(runtime._dumps(refused))
        assert failed["ok"] is False and failed["error"]["type"] == "TypeError"
    assert runtime._loads(b'{"a": "\\ud800", "n": NaN}')["a"] == "\ud800"  # orjson refuses
    assert runtime._loads('{"é": [1, 2.5, null]}'.encode()) == {"é": [1, 2.5, None]}
    big = runtime._loads(b'{"n": 18446744073709551616, "m": -9223372036854775809, "k": 1}')
    assert big == {"n": 2**64, "m": -(2**63) - 1, "k": 1}  # exact, not floats
    assert type(big["n"]) is int
