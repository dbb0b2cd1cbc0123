"""A loopback stand-in of the AWS Lambda Runtime API (``/2018-06-01/runtime/...``): what a
runtime interface client such as ``awslambdaric`` polls inside a Lambda container.

``invoke(payload)`` queues one invocation and waits for the runtime's answer: the next
``GET /invocation/next`` receives it (with ``Lambda-Runtime-Aws-Request-Id``,
``Lambda-Runtime-Deadline-Ms`` and ``Lambda-Runtime-Invoked-Function-Arn``), and
``POST /invocation/<id>/response`` or ``/error`` answers it. ``POST /init/error`` (the handler
could not be loaded) is kept in ``init_errors``. It does not cover the API's extensions,
telemetry or X-Ray headers.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

__all__ = ["Answer", "RuntimeApi"]

_PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:floww-test"


@attrs.frozen
class Answer:
    """``kind`` is ``response`` or ``error``; ``body`` the JSON the runtime posted."""

    kind: str
    body: Any


class RuntimeApi:
    def __init__(self) -> None:
        self._pending: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._answers: dict[str, queue.Queue[Answer]] = {}
        self._lock = threading.Lock()
        self.init_errors: list[Any] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != f"{_PREFIX}/invocation/next":
                    self._send(404, b'{"errorMessage": "unknown path"}')
                    return
                request_id, body = api._pending.get()
                self._send(
                    200,
                    body,
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": "9999999999999",
                        "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                    },
                )

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                doc = json.loads(body) if body else None
                parts = self.path.removeprefix(_PREFIX + "/").split("/")
                if parts == ["init", "error"]:
                    api.init_errors.append(doc)
                elif (
                    len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2] in ("response", "error")
                ):
                    api._answer_queue(parts[1]).put(Answer(parts[2], doc))
                else:
                    self._send(404, b'{"errorMessage": "unknown path"}')
                    return
                self._send(202, b'{"status": "OK"}')

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """What ``AWS_LAMBDA_RUNTIME_API`` holds: ``host:port``."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> RuntimeApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, payload: Any, timeout: float = 60.0) -> Answer:
        request_id = str(uuid.uuid4())
        answers = self._answer_queue(request_id)
        self._pending.put((request_id, json.dumps(payload).encode()))
        return answers.get(timeout=timeout)

    def _answer_queue(self, request_id: str) -> queue.Queue[Answer]:
        with self._lock:
            return self._answers.setdefault(request_id, queue.Queue())
