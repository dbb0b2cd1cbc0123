"""AWS Lambda as the function host: one image-based function per runtime (boto3).

A runtime's function is named ``<function prefix>-<runtime id>`` and runs the runtime's image
(``<image prefix>/<image ref>``, an ECR image, its repository as ECR names it) with the memory,
timeout, ephemeral storage, role and environment of ``LambdaConfig``. The image's handler is
floww's Lambda entry (``floww.sdk.lambda_entry.handler``), which speaks the runtime contract
(docs/architecture.md, "Wire contracts").

The host is a cache over Lambda: any call on a runtime whose function this process has not
seen yet (a restart, a second replica, a function deleted behind its back) creates or finds
the function first, as ``create_runtime`` does; ``create_runtime`` is idempotent and waits
(bounded by ``wait_s``) for the function to leave ``Pending``.

- Status is the function's state: ``Active`` (and ``Inactive``, which Lambda wakes on the next
  call) is READY, ``Failed`` is FAILED with Lambda's reason, ``Pending`` is PENDING.
- ``get_definitions`` is a synchronous invoke that carries the code's files; ``invoke`` is a
  synchronous invoke that carries only the code's digest: the entry fetches the files from the
  platform with the execution token once and keeps them in the warm container.
- A READY function's asynchronous events are never retried by Lambda and expire after
  ``event_max_age_s`` in Lambda's queue (``PutFunctionEventInvokeConfig``).
- ``start`` is an asynchronous invoke (``InvocationType=Event``, Lambda answers 202 once it
  queued the event) of the same request with ``execution.report`` set: the entry then reports
  its answer to the API itself (``POST /api/executions/<id>/report``, execution token).
- Errors never leave as boto3's: a function that failed (crashed, ran out of memory) is
  ``Unavailable``; one past its timeout or the invocation's deadline is ``DeadlineExceeded``;
  throttling is ``Overloaded`` (with Lambda's retry delay); an image or role Lambda refuses
  gives a FAILED runtime; any other service or connection error is ``Unavailable``.
- ``destroy_runtime`` deletes the function (idempotent).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import attrs
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ReadTimeoutError,
)

from floww.domain.errors import (
    DeadlineExceeded,
    FlowwError,
    InvalidInput,
    Overloaded,
    Unavailable,
    UserCodeError,
)
from floww.domain.model import (
    CodeBundle,
    Definitions,
    Invocation,
    InvocationResult,
    Runtime,
    RuntimeStatus,
)
from floww.ports.function_host import FunctionHost
from floww.sdk.lambda_entry import REPORT
from floww.sdk.wire import (
    definitions_from_wire,
    definitions_request,
    invocation_to_wire,
    result_from_wire,
)

__all__ = [
    "HANDLER",
    "LAMBDA_PLATFORM",
    "LAMBDA_PYTHON",
    "LambdaConfig",
    "LambdaFunctionHost",
    "lambda_client",
]

_T = TypeVar("_T")
_P = ParamSpec("_P")
HANDLER = "floww.sdk.lambda_entry.handler"
# What the functions run on: the AWS Lambda Python 3.12 base image (runtime/Dockerfile).
LAMBDA_PLATFORM = "linux/amd64"
LAMBDA_PYTHON = "3.12"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64
# The states Lambda reports for a function (GetFunctionConfiguration ``State``).
_READY_STATES = {"Active", "Inactive"}


@attrs.frozen
class LambdaConfig:
    """How runtimes become functions. ``image_prefix`` (the ECR registry host) is joined with
    ``/`` to a runtime's image reference, its repository named as the registry stores it:
    ``repository`` maps floww's name to the registry's (ECR's ``<prefix>/<namespace id>`` for
    ``floww/<namespace id>``; unchanged when not given)."""

    role_arn: str
    image_prefix: str
    memory_mb: int = 512
    timeout_s: int = 60
    ephemeral_storage_mb: int = 512
    function_prefix: str = "floww"
    environment: Mapping[str, str] = attrs.field(factory=dict)
    repository: Callable[[str], str] | None = None
    # Asynchronous events: never retried by Lambda (a handler must not run twice behind the
    # platform's back), dropped when Lambda could not start them within this many seconds.
    event_max_age_s: int = 60

    def function_name(self, runtime: Runtime) -> str:
        return _NAME_UNSAFE.sub("-", f"{self.function_prefix}-{runtime.id}")[:_MAX_NAME]

    def image_uri(self, runtime: Runtime) -> str:
        reference = runtime.image_ref
        if self.repository is not None:
            at = reference.find("@")
            split = at if at >= 0 else reference.rfind(":")
            split = split if split > reference.rfind("/") else len(reference)
            reference = self.repository(reference[:split]) + reference[split:]
        prefix = self.image_prefix.rstrip("/")
        return f"{prefix}/{reference}" if prefix else reference


def lambda_client(region: str, *, endpoint_url: str = "", timeout_s: int = 60) -> Any:
    """A boto3 Lambda client whose read timeout outlasts the function's own timeout, retrying
    throttled calls a little (standard retry mode) and never for long."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region,
        connect_timeout=5,
        read_timeout=timeout_s + 15,
        retries={"mode": "standard", "total_max_attempts": 2},
    )
    return boto3.client("lambda", endpoint_url=endpoint_url or None, config=config)


class _LambdaAnswer(Exception):
    """An answer of Lambda's that the host acts on; never leaves the host (``_answered``)."""


class _Missing(_LambdaAnswer):
    """The function does not exist (Lambda's ``ResourceNotFoundException``)."""


class _Conflict(_LambdaAnswer):
    """The function exists already, or is being changed (``ResourceConflictException``)."""


class _Refused(_LambdaAnswer):
    """Lambda refused the request's content: a bad image, role or parameter."""


def _answered(method: Callable[_P, _T]) -> Callable[_P, _T]:
    """``method``, with any of Lambda's answers it did not act on as ``Unavailable``."""

    @functools.wraps(method)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(*args, **kwargs)
        except _LambdaAnswer as exc:
            raise Unavailable(f"Lambda: {exc}") from None

    return guarded


class LambdaFunctionHost(FunctionHost):
    """Runs runtimes as Lambda functions through ``client`` (a boto3 Lambda client)."""

    def __init__(
        self,
        client: Any,
        config: LambdaConfig,
        *,
        wait_s: float = 120.0,
        poll_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._config = config
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._sleep = sleep
        self._lock = threading.Lock()
        self._ready: dict[str, str] = {}  # runtime id -> image URI of its READY function

    # -- FunctionHost ------------------------------------------------------------------------

    @_answered
    def create_runtime(self, runtime: Runtime) -> Runtime:
        name = self._config.function_name(runtime)
        uri = self._config.image_uri(runtime)
        try:
            current = self._function(name)
            if current is None:
                self._create(name, uri)
            elif current.get("Code", {}).get("ImageUri") != uri:
                self._wait(name)
                self._call("UpdateFunctionCode", FunctionName=name, ImageUri=uri)
            state, reason = self._wait(name)
            if state in _READY_STATES:
                self._call(
                    "PutFunctionEventInvokeConfig",
                    FunctionName=name,
                    MaximumRetryAttempts=0,
                    MaximumEventAgeInSeconds=self._config.event_max_age_s,
                )
        except _Refused as exc:
            return self._settled(runtime, RuntimeStatus.FAILED, str(exc))
        if state in _READY_STATES:
            with self._lock:
                self._ready[runtime.id] = uri
            return self._settled(runtime, RuntimeStatus.READY, "")
        if state == "Failed":
            return self._settled(runtime, RuntimeStatus.FAILED, f"function {name}: {reason}")
        return self._settled(runtime, RuntimeStatus.PENDING, f"function {name} is {state}")

    @_answered
    def runtime_status(self, runtime: Runtime) -> RuntimeStatus:
        try:
            config = self._call(
                "GetFunctionConfiguration", FunctionName=self._config.function_name(runtime)
            )
        except _Missing:
            return self.create_runtime(runtime).status
        state = config.get("State", "Active")
        if state in _READY_STATES:
            return RuntimeStatus.READY
        return RuntimeStatus.FAILED if state == "Failed" else RuntimeStatus.PENDING

    @_answered
    def get_definitions(
        self, runtime: Runtime, code: CodeBundle, providers: dict[str, dict[str, str]]
    ) -> Definitions:
        answer = self._invoke(runtime, definitions_request(code, providers), deadline_ms=0)
        return _decoded(definitions_from_wire, answer)

    @_answered
    def invoke(self, runtime: Runtime, invocation: Invocation) -> InvocationResult:
        payload = invocation_to_wire(invocation, include_files=False)
        answer = self._invoke(runtime, payload, deadline_ms=invocation.execution.deadline_ms)
        if isinstance(answer, dict) and answer.get("ok") is False:
            error = answer.get("error")
            if isinstance(error, dict) and error.get("type") == "DeadlineExceeded":
                raise DeadlineExceeded(str(error.get("message") or "past the deadline"))
        return _decoded(result_from_wire, answer)

    @_answered
    def start(self, runtime: Runtime, invocation: Invocation) -> bool:
        payload = invocation_to_wire(invocation, include_files=False)
        payload["execution"] = {**payload["execution"], REPORT: True}
        self._invoke(runtime, payload, deadline_ms=invocation.execution.deadline_ms, event=True)
        return True

    @_answered
    def destroy_runtime(self, runtime: Runtime) -> None:
        with self._lock:
            self._ready.pop(runtime.id, None)
        try:
            self._call("DeleteFunction", FunctionName=self._config.function_name(runtime))
        except _Missing:
            pass
        except _Refused as exc:
            raise Unavailable(f"Lambda refused to delete the function: {exc}") from None

    # -- pieces ------------------------------------------------------------------------------

    def _invoke(
        self, runtime: Runtime, payload: dict[str, Any], *, deadline_ms: int, event: bool = False
    ) -> Any:
        """One invoke of the runtime's function, synchronous (its answer) or, with ``event``,
        asynchronous (``None`` once Lambda queued it); a function that is gone is created
        again once."""
        self._ensure(runtime)
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
        name = self._config.function_name(runtime)
        kind = "Event" if event else "RequestResponse"
        try:
            reply = self._call("Invoke", FunctionName=name, InvocationType=kind, Payload=body)
        except _Missing:
            with self._lock:
                self._ready.pop(runtime.id, None)
            self._ensure(runtime)
            reply = self._call("Invoke", FunctionName=name, InvocationType=kind, Payload=body)
        except _Refused as exc:
            raise Unavailable(f"Lambda refused the invocation of {name}: {exc}") from None
        if event:
            status = int(reply.get("StatusCode") or 0)
            if status != 202:
                raise Unavailable(f"Lambda did not queue the event for {name} (status {status})")
            return None
        raw = reply["Payload"].read()
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            raise Unavailable(f"function {name} answered something that is not JSON") from None
        if reply.get("FunctionError"):
            raise _function_error(name, answer, self._config.timeout_s, deadline_ms)
        return answer

    def _ensure(self, runtime: Runtime) -> None:
        with self._lock:
            known = self._ready.get(runtime.id)
        if known == self._config.image_uri(runtime):
            return
        made = self.create_runtime(runtime)
        if made.status is not RuntimeStatus.READY:
            raise Unavailable(f"runtime {runtime.id} is {made.status.value}: {made.error}")

    def _create(self, name: str, uri: str) -> None:
        config = self._config
        with contextlib.suppress(_Conflict):  # created meanwhile elsewhere: the same function
            self._call(
                "CreateFunction",
                FunctionName=name,
                PackageType="Image",
                Code={"ImageUri": uri},
                Role=config.role_arn,
                MemorySize=config.memory_mb,
                Timeout=config.timeout_s,
                EphemeralStorage={"Size": config.ephemeral_storage_mb},
                Environment={"Variables": dict(config.environment)},
                Publish=False,
                Tags={"floww:runtime": name},
            )

    def _function(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._call("GetFunction", FunctionName=name))
        except _Missing:
            return None

    def _wait(self, name: str) -> tuple[str, str]:
        """The function's state once it left ``Pending`` and any update finished, or as it is
        when ``wait_s`` ran out."""
        deadline = time.monotonic() + self._wait_s
        while True:
            config = self._call("GetFunctionConfiguration", FunctionName=name)
            state = str(config.get("State") or "Active")
            updating = config.get("LastUpdateStatus") == "InProgress"
            if (state != "Pending" and not updating) or time.monotonic() >= deadline:
                reason = str(
                    config.get("StateReason") or config.get("LastUpdateStatusReason") or ""
                )
                return state, reason
            self._sleep(self._poll_s)

    def _call(self, operation: str, **params: Any) -> Any:
        """``operation`` on the client, boto3's errors translated (see the module docstring)."""
        method = getattr(self._client, _snake(operation))
        try:
            return method(**params)
        except ReadTimeoutError:
            raise DeadlineExceeded(f"Lambda did not answer {operation} in time") from None
        except ClientError as exc:
            raise _translated(operation, exc) from None
        except NoCredentialsError:
            raise Unavailable(
                "no AWS credentials for Lambda: give the server an IAM role (instance or task "
                "role) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from None
        except BotoCoreError as exc:
            raise Unavailable(f"Lambda cannot be reached ({operation}): {exc}") from None

    @staticmethod
    def _settled(runtime: Runtime, status: RuntimeStatus, error: str) -> Runtime:
        return attrs.evolve(runtime, status=status, error=error)


_REFUSALS = {
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "RequestTooLargeException",
    "CodeStorageExceededException",
    "AccessDeniedException",
    "ResourceNotReadyException",
}
_THROTTLES = {"TooManyRequestsException", "ThrottlingException", "EC2ThrottledException"}


def _translated(operation: str, exc: ClientError) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or code or "no reason given")
    if code == "ResourceNotFoundException":
        return _Missing(message)
    if code == "ResourceConflictException":
        return _Conflict(message)
    if code in _THROTTLES:
        retry = _retry_after(exc.response)
        return Overloaded(f"Lambda throttled {operation}: {message}", retry_after_s=retry)
    if code in _REFUSALS:
        return _Refused(f"{code}: {message}")
    return Unavailable(f"Lambda failed {operation} ({code or 'error'}): {message}")


def _retry_after(response: Mapping[str, Any]) -> float:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    for value in (headers.get("retry-after"), response.get("retryAfterSeconds")):
        try:
            return max(1.0, float(str(value)))
        except ValueError:
            continue
    return 1.0


def _function_error(name: str, answer: Any, timeout_s: int, deadline_ms: int) -> FlowwError:
    """What a ``FunctionError`` answer means: the entry never raises for a handler's error,
    so this is the function itself failing (timed out, out of memory, crashed)."""
    doc = answer if isinstance(answer, dict) else {}
    kind = str(doc.get("errorType") or "")
    message = str(doc.get("errorMessage") or answer or "no reason given")
    if kind == "Sandbox.Timedout" or "Task timed out" in message:
        limit = f"{deadline_ms} ms" if deadline_ms > 0 else f"{timeout_s} s"
        return DeadlineExceeded(f"function {name} did not finish within {limit}: {message}")
    return Unavailable(f"function {name} failed ({kind or 'error'}): {message}")


def _decoded(decode: Callable[[Any], _T], answer: Any) -> _T:
    try:
        return decode(answer)
    except UserCodeError:
        raise
    except InvalidInput as exc:
        raise Unavailable(f"the function's answer does not follow the contract: {exc}") from None


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
