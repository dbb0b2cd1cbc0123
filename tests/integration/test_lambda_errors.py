"""How LambdaFunctionHost maps what Lambda answers when things go wrong, against a loopback
server that answers Lambda's documented HTTP contract for GetFunction,
GetFunctionConfiguration and Invoke (REST-JSON: ``x-amzn-ErrorType`` and a JSON ``message``
for service errors; status 200 with ``X-Amz-Function-Error`` and the runtime's
``errorType``/``errorMessage`` for a function that failed).

moto cannot show these (it never throttles, times out or crashes a function). The stand-in
does not cover Lambda's real retry hints beyond ``Retry-After`` nor its exact messages. The
boto3 client is the one the server builds (``lambda_client``, its retries included).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import pytest

from floww.adapters.aws.lambda_host import LambdaConfig, LambdaFunctionHost, lambda_client
from floww.domain.errors import DeadlineExceeded, Overloaded, Unavailable
from floww.domain.model import Runtime
from floww.sdk.lambda_entry import handler
from floww.sdk.wire import invocation_to_wire
from floww.testing.contracts.function_host import hook, invocation, webhook_event
from tests.integration.serving import free_port

pytestmark = pytest.mark.integration

IMAGE = "registry.example/floww/ns_1:abc"


@attrs.define
class Scripted:
    """The next answers to Invoke: ``(status, headers, body)``; calls seen, in order."""

    answers: list[tuple[int, dict[str, str], bytes]] = attrs.field(factory=list)
    calls: list[str] = attrs.field(factory=list)


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

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.script.calls.append(f"POST {self.path}")
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
