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
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from floww.domain.errors import FlowwError
from floww.sdk.http import JsonClient
from floww.sdk.runtime import Answer, Runtime

__all__ = ["LambdaEntry", "fetch_code", "handler"]

_FETCH_TIMEOUT_S = 30.0


class LambdaEntry:
    """One container's entry: its runtime keeps the code it loaded, by digest."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self._runtime = runtime or Runtime()

    def handle(self, event: Any, context: Any = None) -> Answer:
        """Answer one runtime-contract request (the Lambda invocation payload)."""
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


def _needs_code(answer: Answer) -> bool:
    error = answer.get("error") if answer.get("ok") is False else None
    return isinstance(error, dict) and error.get("type") == "CodeNotCached"
