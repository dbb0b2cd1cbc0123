"""How LambdaFunctionHost maps what Lambda answers when things go wrong, against a loopback
server that answers Lambda's documented HTTP contract for GetFunction,
GetFunctionConfiguration and Invoke (REST-JSON: ``x-amzn-ErrorType`` and a JSON ``message``
for service errors; status 200 with ``X-Amz-Function-Error`` and the runtime's
``errorType``/``errorMessage`` for a function that failed).

moto cannot show these (it never throttles, times out or crashes a function). ``start`` (an
asynchronous ``Event`` invoke) is shown against the same contract: 202 when queued. The stand-in
does not cover Lambda's real retry hints beyond ``Retry-After`` nor its exact messages. The
boto3 client is the one the server builds (``lambda_client``, its retries included), and the
last test follows each failure through the server's webhook use case to the execution's final
status. Without a scripted answer the stand-in runs floww's Lambda entry on the request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import pytest

from floww.adapters.aws.lambda_host import LambdaConfig, LambdaFunctionHost, lambda_client
from floww.adapters.memory import InMemoryIdentity
from floww.adapters.memory.platform import InProcessPlatform
from floww.domain.errors import DeadlineExceeded, Overloaded, Unavailable
from floww.domain.model import CodeBundle, ExecutionStatus, Runtime, RuntimeTarget
from floww.domain.oci import runtime_repository
from floww.domain.usecases.scheduling import CronTick, fire_cron_tick
from floww.domain.usecases.webhooks import IncomingRequest, handle_webhook
from floww.domain.usecases.workflows import create_namespace
from floww.sdk.catalog import fields_for
from floww.sdk.lambda_entry import handler
from floww.sdk.wire import invocation_to_wire
from floww.testing.contracts.function_host import hook, invocation, webhook_event
from tests.integration.serving import free_port
from tests.support import memory_deps

pytestmark = pytest.mark.integration

IMAGE = "registry.example/floww/ns_1:abc"


@attrs.define
class Scripted:
    """The next answers to Invoke: ``(status, headers, body)``; calls seen, in order."""

    answers: list[tuple[int, dict[str, str], bytes]] = attrs.field(factory=list)
    calls: list[str] = attrs.field(factory=list)
    kinds: list[str] = attrs.field(factory=list)  # X-Amz-Invocation-Type of each Invoke


class _LambdaApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Scripted

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        name = self.path.split("/")[3]
        self.script.calls.append(f"GET {self.path}")
        config = {"FunctionName": name, "State": "Active", "LastUpdateStatus": "Successful"}
        if self.path.endswith("/configuration"):
            self._send(200, {"Content-Type": "application/json"}, json.dumps(config).encode())
        else:
            doc = {"Configuration": config, "Code": {"ImageUri": f"prefix/{IMAGE}"}}
            self._send(200, {"Content-Type": "application/json"}, json.dumps(doc).encode())

    def do_PUT(self) -> None:  # UpdateFunctionCode
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.script.calls.append(f"PUT {self.path}")
        self._send(200, {"Content-Type": "application/json"}, b"{}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.script.calls.append(f"POST {self.path}")
        self.script.kinds.append(self.headers.get("X-Amz-Invocation-Type") or "")
        if not self.script.answers:
            # Run floww's Lambda entry on the request, as the function would.
            self._send(
                200,
                {"Content-Type": "application/json"},
                json.dumps(handler(json.loads(body))).encode(),
            )
            return
        self._send(*self.script.answers.pop(0))


@pytest.fixture
def lambda_api() -> Iterator[tuple[str, Scripted]]:
    script = Scripted()
    handler_class = type("Handler", (_LambdaApi,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


def host_at(url: str) -> LambdaFunctionHost:
    client = lambda_client("us-east-1", endpoint_url=url, timeout_s=5)
    config = LambdaConfig(role_arn="arn:aws:iam::1:role/r", image_prefix="prefix")
    return LambdaFunctionHost(client, config)


def service_error(
    status: int, code: str, message: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"message": message, "Type": "User"}).encode()
    return status, {"x-amzn-ErrorType": code, "Content-Type": "application/json", **headers}, body


def function_error(kind: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"errorType": kind, "errorMessage": message}).encode()
    return 200, {"X-Amz-Function-Error": "Unhandled", "Content-Type": "application/json"}, body


RUNTIME = Runtime("rt_err", "ns_1", "hash", IMAGE)
BOOM = invocation(hook("/boom"), webhook_event("/boom"))


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_the_stand_in_runs_the_entry_when_nothing_goes_wrong(
    lambda_api: tuple[str, Scripted],
) -> None:
    url, _ = lambda_api
    handler(invocation_to_wire(BOOM))  # the entry caches the code, as a warm container would
    result = host_at(url).invoke(RUNTIME, BOOM)
    assert result.ok is False and result.error is not None
    assert result.error.type == "ValueError"


def test_throttling_is_overloaded_with_the_retry_delay(lambda_api: tuple[str, Scripted]) -> None:
    url, script = lambda_api
    throttled = service_error(
        429, "TooManyRequestsException", "Rate exceeded", **{"Retry-After": "7"}
    )
    script.answers = [throttled, throttled]
    with pytest.raises(Overloaded) as info:
        host_at(url).invoke(RUNTIME, BOOM)
    assert "throttled" in str(info.value) and "Rate exceeded" in str(info.value)
    assert info.value.retry_after_s == 7.0
    assert sum(call.endswith("/invocations") for call in script.calls) == 2  # retried once


def test_a_function_past_its_timeout_is_deadline_exceeded(lambda_api: tuple[str, Scripted]) -> None:
    url, script = lambda_api
    script.answers = [function_error("Sandbox.Timedout", "Task timed out after 60.00 seconds")]
    with pytest.raises(DeadlineExceeded, match="did not finish"):
        host_at(url).invoke(RUNTIME, BOOM)


def test_a_function_that_crashed_is_unavailable(lambda_api: tuple[str, Scripted]) -> None:
    url, script = lambda_api
    script.answers = [
        function_error("Runtime.OutOfMemory", "Runtime exited with error: signal: killed")
    ]
    with pytest.raises(Unavailable, match=r"Runtime\.OutOfMemory"):
        host_at(url).invoke(RUNTIME, BOOM)


def test_service_errors_are_unavailable(lambda_api: tuple[str, Scripted]) -> None:
    url, script = lambda_api
    failing = service_error(500, "ServiceException", "internal error")
    script.answers = [failing, failing]
    with pytest.raises(Unavailable, match="ServiceException"):
        host_at(url).invoke(RUNTIME, BOOM)


def test_an_unreachable_lambda_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="cannot be reached"):
        host_at(f"http://127.0.0.1:{free_port()}").invoke(RUNTIME, BOOM)


def test_a_function_gone_at_invoke_is_found_again_and_invoked_once_more(
    lambda_api: tuple[str, Scripted],
) -> None:
    url, script = lambda_api
    handler(invocation_to_wire(BOOM))
    script.answers = [service_error(404, "ResourceNotFoundException", "Function not found")]
    assert host_at(url).invoke(RUNTIME, BOOM).ok is False
    invokes = [call for call in script.calls if call.endswith("/invocations")]
    assert len(invokes) == 2


HOOKS = """
from floww import Builtin

builtin = Builtin()


@builtin.webhook("/hello", methods=["POST"])
def hello(ctx, event):
    return {"message": "hi"}
"""


def test_lambdas_failures_become_the_executions_final_status(
    lambda_api: tuple[str, Scripted],
) -> None:
    """Through the webhook use case the server runs: the execution records what Lambda did."""
    url, script = lambda_api
    with memory_deps(host=host_at(url)) as deps:
        identity = deps.identity
        assert isinstance(identity, InMemoryIdentity)
        user = identity.create_user("ada@example.com")
        namespace = create_namespace(deps, user, "aws")
        platform = InProcessPlatform(
            deps, user, target=RuntimeTarget("linux/amd64", "3.12"), provider_fields=fields_for
        )
        workflow = platform.create_workflow(namespace.id, "hello")
        runtime = platform.create_runtime(
            namespace.id, "spec", f"{runtime_repository(namespace.id)}:spec"
        )
        code = CodeBundle("main.py", {"main.py": HOOKS})
        definitions = deps.host.get_definitions(runtime, code, {})  # the entry, via the stand-in
        platform.create_deployment(
            workflow.id,
            runtime_id=runtime.id,
            code=code,
            triggers=definitions.triggers,
            provider_mapping={},
        )
        throttled = service_error(429, "TooManyRequestsException", "Rate exceeded")
        cases = [
            ([], ExecutionStatus.COMPLETED, None),
            (
                [function_error("Sandbox.Timedout", "Task timed out after 60.00 seconds")],
                ExecutionStatus.TIMED_OUT,
                "DeadlineExceeded",
            ),
            ([throttled, throttled], ExecutionStatus.FAILED, "Overloaded"),
            (
                [function_error("Runtime.OutOfMemory", "signal: killed")],
                ExecutionStatus.FAILED,
                "Unavailable",
            ),
            (
                [service_error(500, "ServiceException", "x")] * 2,
                ExecutionStatus.FAILED,
                "Unavailable",
            ),
        ]
        for answers, status, error_type in cases:
            script.answers = list(answers)
            request = IncomingRequest(workflow.id, "POST", "/hello", {}, {}, b"{}")
            response = handle_webhook(deps, request)
            assert response.execution_id is not None
            execution = deps.repo.get_execution(response.execution_id)
            assert execution.status is status, (answers, execution)
            assert (execution.error.type if execution.error else None) == error_type
            assert "Traceback" not in str(response.body)


QUEUED = (202, {"Content-Type": "application/json"}, b"")  # Lambda queued the event


def test_start_is_an_event_invocation_whose_failures_map_like_invoke(
    lambda_api: tuple[str, Scripted],
) -> None:
    url, script = lambda_api
    host = host_at(url)
    script.answers = [QUEUED]
    assert host.start(RUNTIME, BOOM) is True
    assert script.kinds == ["Event"]
    throttled = service_error(429, "TooManyRequestsException", "Rate exceeded")
    script.answers = [throttled, throttled]
    with pytest.raises(Overloaded, match="throttled"):
        host.start(RUNTIME, BOOM)
    script.answers = [service_error(500, "ServiceException", "internal error")] * 2
    with pytest.raises(Unavailable, match="ServiceException"):
        host.start(RUNTIME, BOOM)
    script.answers = [(200, {"Content-Type": "application/json"}, b"{}")]
    with pytest.raises(Unavailable, match="did not queue"):
        host.start(RUNTIME, BOOM)
    with pytest.raises(Unavailable, match="cannot be reached"):
        host_at(f"http://127.0.0.1:{free_port()}").start(RUNTIME, BOOM)


TICKS = """
from floww import Builtin

builtin = Builtin()


@builtin.cron("*/5 * * * *")
def tick(ctx, event):
    return "ticked"
"""


def test_a_detached_start_lambda_refuses_ends_the_execution_at_once(
    lambda_api: tuple[str, Scripted],
) -> None:
    """A cron tick started detached: when Lambda does not take the event, the execution ends
    FAILED with the domain error at once; when it does, it stays STARTED for the report."""
    url, script = lambda_api
    with memory_deps(host=host_at(url)) as deps:
        identity = deps.identity
        assert isinstance(identity, InMemoryIdentity)
        user = identity.create_user("ada@example.com")
        namespace = create_namespace(deps, user, "aws")
        platform = InProcessPlatform(
            deps, user, target=RuntimeTarget("linux/amd64", "3.12"), provider_fields=fields_for
        )
        workflow = platform.create_workflow(namespace.id, "ticks")
        runtime = platform.create_runtime(
            namespace.id, "spec", f"{runtime_repository(namespace.id)}:spec"
        )
        code = CodeBundle("main.py", {"main.py": TICKS})
        definitions = deps.host.get_definitions(runtime, code, {})
        platform.create_deployment(
            workflow.id,
            runtime_id=runtime.id,
            code=code,
            triggers=definitions.triggers,
            provider_mapping={},
        )
        (cron,) = deps.repo.list_triggers(workflow.id)
        throttled = service_error(429, "TooManyRequestsException", "Rate exceeded")
        cases = [
            ([QUEUED], ExecutionStatus.STARTED, None),
            ([throttled, throttled], ExecutionStatus.FAILED, "Overloaded"),
            (
                [service_error(500, "ServiceException", "x")] * 2,
                ExecutionStatus.FAILED,
                "Unavailable",
            ),
        ]
        for minute, (answers, status, error_type) in enumerate(cases):
            script.answers = list(answers)
            script.kinds.clear()
            at = datetime(2026, 1, 1, 12, minute, tzinfo=UTC)
            execution = fire_cron_tick(deps, CronTick(cron, at))
            assert execution is not None
            assert execution.status is status, (answers, execution)
            assert (execution.error.type if execution.error else None) == error_type
            assert set(script.kinds) == {"Event"}
