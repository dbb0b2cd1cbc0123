"""Contract of ``FunctionHost``: runs real user code through the SDK runtime."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from floww.domain.errors import DeadlineExceeded, Unavailable, UserCodeError
from floww.domain.model import (
    CodeBundle,
    ExecutionContext,
    Invocation,
    ProviderRef,
    Runtime,
    RuntimeStatus,
    TriggerSpec,
)
from floww.ports.function_host import FunctionHost

pytest.importorskip("floww.sdk.runtime", reason="the SDK runtime is not available")

MAIN = textwrap.dedent(
    """
    import time
    from floww import Builtin

    builtin = Builtin()

    @builtin.webhook("/hello/{name}", methods=["POST"])
    async def hello(ctx, event):
        ctx.log.info("greeting %s", event.path_params["name"])
        return {"message": f"hi {event.path_params['name']}", "execution": ctx.execution_id}

    @builtin.webhook("/boom")
    def boom(ctx, event):
        raise ValueError("kaput")

    @builtin.webhook("/slow")
    def slow(ctx, event):
        time.sleep(1.0)
        return "late"
    """
)
CODE = CodeBundle("main.py", {"main.py": MAIN})


def hook(path: str, method: str = "POST") -> TriggerSpec:
    return TriggerSpec(ProviderRef("builtin"), "webhook", {"path": path, "methods": [method]})


def webhook_event(path: str, **params: str) -> dict[str, object]:
    return {
        "method": "POST",
        "path": path,
        "headers": {"content-type": "application/json"},
        "query": {},
        "body": {},
        "raw_body_b64": "e30=",
        "path_params": params,
    }


def invocation(
    spec: TriggerSpec, event: dict[str, object], deadline_ms: int = 10_000
) -> Invocation:
    return Invocation(
        code=CODE,
        trigger=spec,
        event=event,
        providers={},
        execution=ExecutionContext("ex_1", "token", "http://127.0.0.1:9", deadline_ms, "wf_1"),
    )


@pytest.fixture
def runtime(host: FunctionHost) -> Runtime:
    made = host.create_runtime(Runtime(f"rt_{uuid.uuid4().hex[:8]}", "ns_1", "hash", "img:tag"))
    assert made.status is RuntimeStatus.READY
    return made


def test_created_runtime_is_ready(host: FunctionHost, runtime: Runtime) -> None:
    assert host.runtime_status(runtime) is RuntimeStatus.READY


def test_get_definitions_lists_the_triggers(host: FunctionHost, runtime: Runtime) -> None:
    definitions = host.get_definitions(runtime, CODE, {})
    assert {(s.trigger_type, s.input["path"]) for s in definitions.triggers} == {
        ("webhook", "/hello/{name}"),
        ("webhook", "/boom"),
        ("webhook", "/slow"),
    }
    assert all(spec.provider == ProviderRef("builtin") for spec in definitions.triggers)
    assert definitions.providers == ()


def test_code_that_does_not_load_is_a_user_code_error(host: FunctionHost, runtime: Runtime) -> None:
    broken = CodeBundle("main.py", {"main.py": "from floww import Builtin\n\ndef broken(:\n"})
    with pytest.raises(UserCodeError) as info:
        host.get_definitions(runtime, broken, {})
    assert info.value.filename == "main.py"
    assert info.value.lineno == 3


def test_invoke_returns_the_result_and_logs(host: FunctionHost, runtime: Runtime) -> None:
    result = host.invoke(
        runtime, invocation(hook("/hello/{name}"), webhook_event("/hello/ada", name="ada"))
    )
    assert result.ok, result.error
    assert result.result == {"message": "hi ada", "execution": "ex_1"}
    assert [line.message for line in result.logs] == ["greeting ada"]
    assert result.duration_ms >= 0


def test_a_raising_handler_gives_ok_false(host: FunctionHost, runtime: Runtime) -> None:
    result = host.invoke(runtime, invocation(hook("/boom"), webhook_event("/boom")))
    assert result.ok is False
    assert result.error is not None
    assert (result.error.type, result.error.message) == ("ValueError", "kaput")


def test_start_hands_the_run_over_or_leaves_it_to_invoke(
    host: FunctionHost, runtime: Runtime
) -> None:
    """``start`` answers whether the host took the run; one it did not take is invoked as
    usual."""
    call = invocation(hook("/hello/{name}"), webhook_event("/hello/ada", name="ada"))
    started = host.start(runtime, call)
    assert isinstance(started, bool)
    if not started:
        assert host.invoke(runtime, call).ok


def test_past_the_deadline_raises(host: FunctionHost, runtime: Runtime) -> None:
    with pytest.raises(DeadlineExceeded):
        host.invoke(runtime, invocation(hook("/slow"), webhook_event("/slow"), deadline_ms=100))


def test_a_runtime_created_elsewhere_runs_on_first_use(host: FunctionHost) -> None:
    """As after a restart, or on a second replica: the record alone is enough."""
    stored = Runtime(f"rt_{uuid.uuid4().hex[:8]}", "ns_1", "hash", "img:tag", RuntimeStatus.READY)
    result = host.invoke(
        stored, invocation(hook("/hello/{name}"), webhook_event("/hello/ada", name="ada"))
    )
    assert result.ok, result.error
    assert host.runtime_status(stored) is RuntimeStatus.READY
    assert {s.input["path"] for s in host.get_definitions(stored, CODE, {}).triggers} >= {"/boom"}


def test_create_runtime_is_idempotent(host: FunctionHost, runtime: Runtime) -> None:
    assert host.invoke(runtime, invocation(hook("/boom"), webhook_event("/boom"))).ok is False
    again = host.create_runtime(runtime)
    assert again.status is RuntimeStatus.READY
    assert host.invoke(runtime, invocation(hook("/boom"), webhook_event("/boom"))).ok is False


def test_a_runtime_whose_image_is_missing_fails(host: FunctionHost) -> None:
    ghost = Runtime("rt_ghost", "ns_1", "hash", "img:missing", RuntimeStatus.READY)
    assert host.runtime_status(ghost) is RuntimeStatus.FAILED
    with pytest.raises(Unavailable):
        host.get_definitions(ghost, CODE, {})
    with pytest.raises(Unavailable):
        host.invoke(ghost, invocation(hook("/boom"), webhook_event("/boom")))
    made = host.create_runtime(ghost)
    assert made.status is RuntimeStatus.FAILED
    assert "img:missing" in made.error


def test_destroy_is_idempotent_and_the_runtime_comes_back(
    host: FunctionHost, runtime: Runtime
) -> None:
    host.destroy_runtime(runtime)
    host.destroy_runtime(runtime)
    assert host.runtime_status(runtime) is RuntimeStatus.READY
    assert host.invoke(runtime, invocation(hook("/boom"), webhook_event("/boom"))).ok is False
