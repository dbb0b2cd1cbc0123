"""The runtime entry: one contract for every host (dev, local worker processes, Lambda).

``handle(payload)`` answers one request of the wire contract and never raises:

- ``get_definitions``: load the code, answer its triggers and provider usage;
- ``invoke_trigger``: run one trigger's handler with its event, answer its result and logs;
- ``ping``: answer ``{"ok": true, "pong": true}`` at once (a host checks the runtime is up).

Loaded code is cached by digest (a small LRU), so a warm runtime only needs ``code.files`` the
first time. ``main()`` serves the contract as JSON lines on stdin/stdout (the local worker
process); ``lambda_handler`` serves it on AWS Lambda.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import os
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

try:  # a faster JSON where installed (the server's environment); the standard library's else
    import orjson
except ImportError:  # pragma: no cover - the SDK alone (a Lambda image, a laptop)
    orjson = None  # type: ignore[assignment]

from floww.domain.errors import DeadlineExceeded, InvalidInput, UserCodeError
from floww.sdk.collector import LoadedCode, load_code
from floww.sdk.config import provider_configs
from floww.sdk.context import Context, secrets_from_configs
from floww.sdk.events import Event, event_from_wire
from floww.sdk.kv import HttpKvBackend, KvBackend, KvStore
from floww.sdk.logs import ExecutionLog, capture_stdout
from floww.sdk.response import result_to_wire
from floww.sdk.wire import (
    code_from_wire,
    definitions_to_wire,
    execution_from_wire,
    providers_from_wire,
    spec_from_wire,
)

__all__ = ["Runtime", "handle", "lambda_handler", "main"]

Answer = dict[str, Any]

_LONG_NUMBER = re.compile(rb"\d{19}")

# Types orjson would write its own way where the standard library refuses them or writes
# them otherwise (datetimes, dataclasses, subclasses of the JSON types): left to the standard
# library. orjson still writes a UUID or an Enum itself, which the standard library refuses;
# an answer's result and log fields were checked by the standard library before
# (``result_to_wire``, the log's fields), so neither reaches the answer from a handler.
_ORJSON_STRICT = (
    0
    if orjson is None
    else orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


class _Refused(Exception):
    """The request cannot be served; ``kind`` becomes the error type of the answer."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Runtime:
    """Serves the runtime contract, caching loaded code by digest."""

    def __init__(self, *, cache_size: int = 4, cache_root: Path | None = None) -> None:
        self._cache: OrderedDict[str, LoadedCode] = OrderedDict()
        self._cache_size = cache_size
        self._cache_root = cache_root
        self._lock = threading.Lock()

    def handle(self, payload: Any, *, kv_backend: KvBackend | None = None) -> Answer:
        started = time.perf_counter()
        try:
            kind = payload.get("type") if isinstance(payload, dict) else None
            if kind == "ping":
                return {"ok": True, "pong": True}
            if kind == "get_definitions":
                return self._definitions(payload)
            if kind == "invoke_trigger":
                return self._invoke(payload, kv_backend, started)
            raise _Refused("InvalidRequest", f"unknown request type {kind!r}")
        except Exception as exc:
            return _failure(exc)

    def _definitions(self, payload: dict[str, Any]) -> Answer:
        providers = _decoded(providers_from_wire, payload.get("providers"))
        loaded = self._code(payload.get("code"), providers)
        return definitions_to_wire(loaded.definitions)

    def _invoke(
        self, payload: dict[str, Any], kv_backend: KvBackend | None, started: float
    ) -> Answer:
        log = ExecutionLog()
        try:
            providers = _decoded(providers_from_wire, payload.get("providers"))
            spec = _decoded(spec_from_wire, payload.get("trigger"))
            execution = _decoded(execution_from_wire, payload.get("execution"))
            loaded = self._code(payload.get("code"), providers)
            handler = loaded.handler_for(spec)
            event = event_from_wire(spec, payload.get("event") or {})
        except Exception as exc:
            return {**_failure(exc), "logs": [], "duration_ms": _since(started)}
        ctx = Context(
            log=log,
            kv=KvStore(kv_backend or HttpKvBackend(execution.api_url, execution.token)),
            secrets=secrets_from_configs(providers),
            execution_id=execution.id,
            workflow_id=execution.workflow_id,
        )
        name = getattr(handler, "__qualname__", repr(handler))
        try:
            with provider_configs(providers), capture_stdout(log):
                value = _call(handler, name, ctx, event, execution.deadline_ms)
            result = result_to_wire(value, name)
        except (Exception, SystemExit) as exc:
            error = {
                "type": type(exc).__name__,
                "message": str(exc),
                "traceback": _user_traceback(exc, loaded.root),
            }
            return {"ok": False, "error": error, "logs": log.lines, "duration_ms": _since(started)}
        return {"ok": True, "result": result, "logs": log.lines, "duration_ms": _since(started)}

    def _code(self, wire: Any, providers: Mapping[str, Mapping[str, str]]) -> LoadedCode:
        if not isinstance(wire, dict):
            raise _Refused("InvalidRequest", "code must be an object")
        digest = wire.get("digest")
        with self._lock:
            if isinstance(digest, str) and digest in self._cache:
                self._cache.move_to_end(digest)
                return self._cache[digest]
        if wire.get("files") is None:
            raise _Refused("CodeNotCached", f"code {digest} is not cached here; send its files")
        bundle = _decoded(code_from_wire, wire)
        loaded = load_code(bundle, providers=providers, cache_root=self._cache_root)
        with self._lock:
            self._cache[bundle.digest] = loaded
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return loaded


def _decoded(decode: Callable[[Any], Any], wire: Any) -> Any:
    try:
        return decode(wire)
    except InvalidInput as exc:
        raise _Refused("InvalidRequest", str(exc)) from exc


def _call(handler: Callable[..., Any], name: str, ctx: Context, event: Event, deadline: int) -> Any:
    outcome = handler(ctx, event)
    if not inspect.isawaitable(outcome):
        return outcome
    bounded = _bounded(outcome, name, deadline)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(bounded)
    # Called from inside a running loop: give the handler a fresh loop on a helper thread,
    # with this context (provider configs, stdout capture) carried over.
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, asyncio.run, bounded).result()


async def _bounded(awaitable: Awaitable[Any], name: str, deadline_ms: int) -> Any:
    if deadline_ms <= 0:
        return await awaitable
    started = time.monotonic()
    try:
        return await asyncio.wait_for(awaitable, deadline_ms / 1000)
    except TimeoutError:
        if (time.monotonic() - started) * 1000 < deadline_ms:
            raise  # the handler's own timeout, not the deadline
        raise DeadlineExceeded(f"handler {name} did not finish within {deadline_ms} ms") from None


def _failure(exc: BaseException) -> Answer:
    if isinstance(exc, _Refused):
        return {"ok": False, "error": {"type": exc.kind, "message": str(exc), "traceback": ""}}
    if isinstance(exc, UserCodeError):
        error: dict[str, Any] = {
            "type": "UserCodeError",
            "message": exc.reason,
            "traceback": exc.traceback or "",
            "filename": exc.filename,
            "lineno": exc.lineno,
        }
        return {"ok": False, "error": error}
    message = str(exc)
    return {
        "ok": False,
        "error": {"type": type(exc).__name__, "message": message, "traceback": _format(exc)},
    }


def _format(exc: BaseException, tb: TracebackType | None = None) -> str:
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _user_traceback(exc: BaseException, root: Path) -> str:
    """The traceback from the first frame of the user's code on, with bundle-relative paths."""
    prefix = str(root) + os.sep
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(prefix):
        tb = tb.tb_next
    return _format(exc, tb).replace(prefix, "")


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


_default_runtime = Runtime()


def handle(payload: Any, *, kv_backend: KvBackend | None = None) -> Answer:
    """Answer one request of the runtime contract. Never raises."""
    return _default_runtime.handle(payload, kv_backend=kv_backend)


def lambda_handler(event: Any, _context: Any = None) -> Answer:
    """The AWS Lambda entry: the invocation payload is the request."""
    return handle(event)


def main() -> int:
    """Serve JSON-line requests on stdin, one JSON-line answer each on stdout.

    The protocol keeps the real stdout to itself: file descriptor 1 is pointed at stderr, so
    stray output (a child process, a thread outside any invocation) cannot corrupt it.
    """
    protocol = _claim_stdout()
    requests = sys.stdin.buffer
    runtime = Runtime()
    while line := requests.readline():
        if not line.strip():
            continue
        try:
            payload = _loads(line)
        except ValueError as exc:
            answer = _failure(_Refused("InvalidRequest", f"request is not JSON: {exc}"))
        else:
            answer = runtime.handle(payload)
        protocol.write(_dumps(answer) + b"\n")
        protocol.flush()
    return 0


def _claim_stdout() -> BinaryIO:
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(protocol_fd, "wb")


def _loads(line: bytes) -> Any:
    """A request line's JSON: orjson's reading where it is installed (a third of the time),
    the standard library's for what orjson refuses (lone surrogates, ``NaN``), which decides,
    and for a line with a number of 19 digits or more (orjson reads an integer past 64 bits
    as a float: the standard library keeps it exact)."""
    if orjson is not None and _LONG_NUMBER.search(line) is None:
        try:
            return orjson.loads(line)
        except ValueError:
            pass
    return json.loads(line)


def _dumps(answer: Answer) -> bytes:
    """An answer as one JSON line: UTF-8, no ``NaN``. orjson writes the common answer where it
    is installed (a twentieth of the time); whatever it refuses (keys that are not strings)
    or would write as ``null`` (``NaN``, the infinities, or a real ``null``: undecidable
    from the text) is written by the standard library, which decides."""
    if orjson is not None:
        try:
            encoded: bytes = orjson.dumps(answer, option=_ORJSON_STRICT)
        except TypeError:
            pass
        else:
            if b"null" not in encoded:
                return encoded
    try:
        return json.dumps(answer, ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        failure = _failure(TypeError(f"answer is not JSON-serialisable: {exc}"))
        return json.dumps(failure).encode()


if __name__ == "__main__":
    raise SystemExit(main())
