"""floww's AWS Lambda entry: the runtime contract (``floww.sdk.runtime``) as a Lambda handler.

The Lambda runtime image names ``floww.sdk.lambda_entry.handler`` as its handler
(``runtime/Dockerfile``, and the config of the image ``floww deploy`` builds). The invocation
payload is a request of the runtime contract and the answer is its reply:

- ``get_definitions`` carries the code's files (it runs before a deployment exists);
- ``invoke_trigger`` carries only the code's digest. On the first invocation of a digest in a
  container the entry fetches the bundle from the platform
  (``GET <api_url>/api/workflows/<workflow id>/code/<digest>``, with the execution's token),
  checks it against the digest, and keeps it loaded: warm invocations of the same code fetch
  nothing, so a code-only redeploy needs no new image.

The handler never raises: a bundle that cannot be fetched is an ``ok: false`` answer of type
``CodeUnavailable`` whose message says why.

A request whose ``execution`` carries ``report: true`` was invoked asynchronously (Lambda's
``Event``): nobody reads the handler's return value, so the entry reports the answer to the
platform (``POST <api_url>/api/executions/<id>/report`` with the execution's token, body
``{"result": <answer>}``), retrying a few times while the platform is unreachable. A report the
platform refuses (already reported, the execution ended meanwhile) is not retried; a report
that never arrives ends the execution as timed out when its deadline passes.
"""

from __future__ import annotations

import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from floww.domain.errors import FlowwError, Unavailable
from floww.sdk.http import JsonClient
from floww.sdk.runtime import Answer, Runtime

__all__ = ["REPORT", "LambdaEntry", "fetch_code", "handler", "report_answer"]

_FETCH_TIMEOUT_S = 30.0
_REPORT_ATTEMPTS = 3
# The key of a request's ``execution`` asking the entry to report its answer to the API.
REPORT = "report"


class LambdaEntry:
    """One container's entry: its runtime keeps the code it loaded, by digest."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self._runtime = runtime or Runtime()

    def handle(self, event: Any, context: Any = None) -> Answer:
        """Answer one runtime-contract request (the Lambda invocation payload); the answer of
        a request that asks for a report is reported to the platform too."""
        answer = self._answer(event)
        if isinstance(event, dict) and _wants_report(event):
            try:
                report_answer(event, answer)
            except FlowwError as exc:
                # Lambda's log of the invocation is the one place left to say it.
                print(f"floww: the answer could not be reported: {exc}", file=sys.stderr)
        return answer

    def _answer(self, event: Any) -> Answer:
        answer = self._runtime.handle(event)
        if not _needs_code(answer) or not isinstance(event, dict):
            return answer
        try:
            files = fetch_code(event)
        except FlowwError as exc:
            return {
                "ok": False,
                "error": {"type": "CodeUnavailable", "message": str(exc), "traceback": ""},
                "logs": [],
                "duration_ms": 0.0,
            }
        return self._runtime.handle({**event, "code": {**event["code"], "files": files}})


_entry = LambdaEntry()


def handler(event: Any, context: Any = None) -> Answer:
    """The handler the Lambda image names: this container's ``LambdaEntry``."""
    return _entry.handle(event, context)


def fetch_code(request: dict[str, Any]) -> Any:
    """The files of the request's code bundle, from the platform that sent the request."""
    execution = request.get("execution") or {}
    code = request.get("code") or {}
    digest = str(code.get("digest") or "")
    workflow_id = str(execution.get("workflow_id") or "")
    client = JsonClient(
        "floww API",
        str(execution.get("api_url") or ""),
        headers={"Authorization": f"Bearer {execution.get('token') or ''}"},
        timeout=_FETCH_TIMEOUT_S,
    )
    path = (
        f"/api/workflows/{urllib.parse.quote(workflow_id, safe='')}"
        f"/code/{urllib.parse.quote(digest, safe=':')}"
    )
    bundle = client.call("GET", path)
    return bundle.get("files") if isinstance(bundle, dict) else None


def report_answer(
    request: dict[str, Any], answer: Answer, *, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Report the answer of the request's execution to the platform that sent it; an
    unreachable platform is tried again (three attempts in all), a refusal is not."""
    execution = request.get("execution") or {}
    execution_id = str(execution.get("id") or "")
    client = JsonClient(
        "floww API",
        str(execution.get("api_url") or ""),
        headers={"Authorization": f"Bearer {execution.get('token') or ''}"},
        timeout=_FETCH_TIMEOUT_S,
    )
    path = f"/api/executions/{urllib.parse.quote(execution_id, safe='')}/report"
    for attempt in range(1, _REPORT_ATTEMPTS + 1):
        try:
            client.call("POST", path, {"result": answer})
            return
        except Unavailable:
            if attempt == _REPORT_ATTEMPTS:
                raise
            sleep(float(attempt))


def _wants_report(request: dict[str, Any]) -> bool:
    execution = request.get("execution")
    return isinstance(execution, dict) and execution.get(REPORT) is True


def _needs_code(answer: Answer) -> bool:
    error = answer.get("error") if answer.get("ok") is False else None
    return isinstance(error, dict) and error.get("type") == "CodeNotCached"
