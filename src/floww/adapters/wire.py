"""The runtime wire contract: domain values to and from JSON-ready dicts.

One codec for every adapter that talks to a runtime (the in-process host, the worker processes,
Lambda) and for the layers that persist or serve domain values (SQL columns, the HTTP API).
Shapes are snake_case; datetimes travel as ISO-8601 strings and enums by value.

Decoding is where untrusted input meets the domain, so every ``*_from_wire`` function and
``structure`` raise ``InvalidInput`` for a malformed document instead of a codec error.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import cattrs

from floww.domain import model
from floww.domain.errors import InvalidInput, UserCodeError
from floww.domain.model import (
    CodeBundle,
    Definitions,
    ErrorInfo,
    ExecutionContext,
    Invocation,
    InvocationResult,
    LogLine,
    ProviderRef,
    TriggerSpec,
)

__all__ = [
    "code_from_wire",
    "code_to_wire",
    "definitions_from_wire",
    "definitions_request",
    "definitions_to_wire",
    "invocation_from_wire",
    "invocation_to_wire",
    "logline_from_wire",
    "logline_to_wire",
    "result_from_wire",
    "result_to_wire",
    "spec_from_wire",
    "spec_to_wire",
    "structure",
    "unstructure",
]

T = TypeVar("T")


def _parse_datetime(value: object, _: object = None) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(f"not an ISO-8601 datetime: {value!r}") from exc
    else:
        raise InvalidInput(f"expected an ISO-8601 datetime string, got {type(value).__name__}")
    # A naive timestamp on the wire is read as UTC: floww never writes one, but peers might.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _strict_str(value: object, _: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"expected a string, got {type(value).__name__}")
    return value


def _strict_int(value: object, _: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"expected an integer, got {type(value).__name__}")
    return value


def _strict_float(value: object, _: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"expected a number, got {type(value).__name__}")
    return float(value)


def _strict_bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"expected a boolean, got {type(value).__name__}")
    return value


def _is_enum(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, enum.Enum)


def _enum_value(member: enum.Enum) -> Any:
    return member.value


def _enum_from_value(value: object, cls: type[enum.Enum]) -> enum.Enum:
    try:
        return cls(value)
    except ValueError as exc:
        allowed = ", ".join(repr(member.value) for member in cls)
        raise InvalidInput(f"{value!r} is not a {cls.__name__} (one of {allowed})") from exc


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime, lambda moment: moment.isoformat())
    converter.register_structure_hook(datetime, _parse_datetime)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(float, _strict_float)
    converter.register_structure_hook(bool, _strict_bool)
    # A StrEnum is a str too: name each domain enum so it goes by value, not through the str hooks.
    for value in vars(model).values():
        if _is_enum(value):
            converter.register_unstructure_hook(value, _enum_value)
            converter.register_structure_hook(value, _enum_from_value)
    converter.register_unstructure_hook_func(_is_enum, _enum_value)
    converter.register_structure_hook_func(_is_enum, _enum_from_value)
    return converter


_converter = _make_converter()


def unstructure(obj: Any) -> Any:
    """A domain value (or a container of them) as plain JSON-ready data."""
    return _converter.unstructure(obj)


def structure(data: Any, cls: type[T]) -> T:
    """Build a ``cls`` from what ``unstructure`` produced; ``InvalidInput`` when it does not fit."""
    try:
        return _converter.structure(data, cls)
    except InvalidInput:
        raise
    except cattrs.BaseValidationError as exc:
        raise InvalidInput(f"invalid {cls.__name__}: {_describe(exc)}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"invalid {cls.__name__}: {exc}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in exc.exceptions)
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    return str(exc) or type(exc).__name__


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be an object, got {type(value).__name__}")
    return value


def _field(doc: Mapping[str, Any], name: str, kind: type[T], what: str) -> T:
    if name not in doc:
        raise InvalidInput(f"{what} is missing {name!r}")
    value = doc[name]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InvalidInput(f"{what}.{name} must be {kind.__name__}, got {type(value).__name__}")
    return value


# code bundles ---------------------------------------------------------------------------------


def code_to_wire(code: CodeBundle, *, include_files: bool = True) -> dict[str, Any]:
    """``{"digest", "entrypoint", "files"}``; without files a warm runtime that cached the
    digest can still run it."""
    doc: dict[str, Any] = {"digest": code.digest, "entrypoint": code.entrypoint}
    if include_files:
        doc["files"] = dict(code.files)
    return doc


def code_from_wire(data: object) -> CodeBundle:
    doc = _mapping(data, "code")
    entrypoint = _field(doc, "entrypoint", str, "code")
    files = _mapping(_field(doc, "files", dict, "code"), "code.files")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise InvalidInput("code.files must map file names to text")
    bundle = CodeBundle(entrypoint, dict(files))
    digest = doc.get("digest")
    if digest is not None and digest != bundle.digest:
        raise InvalidInput(f"code digest {digest!r} does not match its files")
    return bundle


# trigger specs --------------------------------------------------------------------------------


def spec_to_wire(spec: TriggerSpec) -> dict[str, Any]:
    return {
        "provider": {"type": spec.provider.type, "alias": spec.provider.alias},
        "trigger_type": spec.trigger_type,
        "input": unstructure(dict(spec.input)),
    }


def _ref_from_wire(data: object, what: str) -> ProviderRef:
    doc = _mapping(data, what)
    type_ = _field(doc, "type", str, what)
    alias = doc.get("alias", "default")
    if not type_ or not isinstance(alias, str) or not alias:
        raise InvalidInput(f"{what} needs a non-empty type and alias")
    return ProviderRef(type_, alias)


def spec_from_wire(data: object) -> TriggerSpec:
    doc = _mapping(data, "trigger")
    provider = _ref_from_wire(doc.get("provider"), "trigger.provider")
    trigger_type = _field(doc, "trigger_type", str, "trigger")
    raw_input = doc.get("input", {})
    return TriggerSpec(provider, trigger_type, dict(_mapping(raw_input, "trigger.input")))


# log lines and results ------------------------------------------------------------------------


def logline_to_wire(line: LogLine) -> dict[str, Any]:
    return {
        "at": line.at.isoformat(),
        "level": line.level,
        "message": line.message,
        "fields": unstructure(dict(line.fields)),
    }


def logline_from_wire(data: object) -> LogLine:
    doc = _mapping(data, "log line")
    fields = doc.get("fields") or {}
    return LogLine(
        at=_parse_datetime(doc.get("at")),
        level=_field(doc, "level", str, "log line"),
        message=_field(doc, "message", str, "log line"),
        fields=dict(_mapping(fields, "log line.fields")),
    )


def _error_to_wire(error: ErrorInfo) -> dict[str, Any]:
    return {"type": error.type, "message": error.message, "traceback": error.traceback}


def _error_from_wire(data: object) -> ErrorInfo:
    doc = _mapping(data, "error")
    traceback = doc.get("traceback") or ""
    return ErrorInfo(
        type=str(doc.get("type") or "Error"),
        message=str(doc.get("message") or ""),
        traceback=traceback if isinstance(traceback, str) else str(traceback),
    )


def _logs_from_wire(data: object) -> tuple[LogLine, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise InvalidInput(f"logs must be a list, got {type(data).__name__}")
    return tuple(logline_from_wire(line) for line in data)


def _duration_from_wire(data: object) -> float:
    if data is None:
        return 0.0
    if isinstance(data, bool) or not isinstance(data, int | float):
        raise InvalidInput(f"duration_ms must be a number, got {type(data).__name__}")
    return float(data)


def result_to_wire(result: InvocationResult) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "ok": result.ok,
        "result": unstructure(result.result),
        "logs": [logline_to_wire(line) for line in result.logs],
        "duration_ms": result.duration_ms,
    }
    if result.error is not None:
        doc["error"] = _error_to_wire(result.error)
    return doc


def result_from_wire(data: object) -> InvocationResult:
    doc = _mapping(data, "invocation result")
    ok = _field(doc, "ok", bool, "invocation result")
    error = doc.get("error")
    return InvocationResult(
        ok=ok,
        result=doc.get("result"),
        logs=_logs_from_wire(doc.get("logs")),
        duration_ms=_duration_from_wire(doc.get("duration_ms")),
        error=None if error is None else _error_from_wire(error),
    )


# invocations ----------------------------------------------------------------------------------


def invocation_to_wire(invocation: Invocation, *, include_files: bool = True) -> dict[str, Any]:
    execution = invocation.execution
    return {
        "type": "invoke_trigger",
        "code": code_to_wire(invocation.code, include_files=include_files),
        "trigger": spec_to_wire(invocation.trigger),
        "event": unstructure(dict(invocation.event)),
        "providers": {key: dict(config) for key, config in invocation.providers.items()},
        "execution": {
            "id": execution.id,
            "token": execution.token,
            "api_url": execution.api_url,
            "deadline_ms": execution.deadline_ms,
            "workflow_id": execution.workflow_id,
        },
    }


def _providers_from_wire(data: object) -> dict[str, dict[str, str]]:
    doc = _mapping(data if data is not None else {}, "providers")
    out: dict[str, dict[str, str]] = {}
    for key, config in doc.items():
        ProviderRef.parse(key)
        out[key] = {str(k): str(v) for k, v in _mapping(config, f"providers.{key}").items()}
    return out


def invocation_from_wire(data: object) -> Invocation:
    doc = _mapping(data, "invocation")
    if doc.get("type") != "invoke_trigger":
        raise InvalidInput(f"not an invoke_trigger request: type={doc.get('type')!r}")
    execution = _mapping(doc.get("execution"), "execution")
    return Invocation(
        code=code_from_wire(doc.get("code")),
        trigger=spec_from_wire(doc.get("trigger")),
        event=dict(_mapping(doc.get("event", {}), "event")),
        providers=_providers_from_wire(doc.get("providers")),
        execution=ExecutionContext(
            id=_field(execution, "id", str, "execution"),
            token=_field(execution, "token", str, "execution"),
            api_url=_field(execution, "api_url", str, "execution"),
            deadline_ms=_field(execution, "deadline_ms", int, "execution"),
            workflow_id=str(execution.get("workflow_id") or ""),
        ),
    )


# definitions ----------------------------------------------------------------------------------


def definitions_request(
    code: CodeBundle, providers: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    return {
        "type": "get_definitions",
        "code": code_to_wire(code),
        "providers": {key: dict(config) for key, config in providers.items()},
    }


def definitions_to_wire(definitions: Definitions) -> dict[str, Any]:
    return {
        "ok": True,
        "triggers": [spec_to_wire(spec) for spec in definitions.triggers],
        "providers": [{"type": ref.type, "alias": ref.alias} for ref in definitions.providers],
    }


def definitions_from_wire(data: object) -> Definitions:
    """Decode a ``get_definitions`` answer; an ``ok: false`` answer raises ``UserCodeError``
    pointing at the user's file and line when the runtime knew them."""
    doc = _mapping(data, "definitions")
    ok = _field(doc, "ok", bool, "definitions")
    if not ok:
        error = _mapping(doc.get("error") or {}, "definitions.error")
        filename = error.get("filename")
        lineno = error.get("lineno")
        traceback = error.get("traceback")
        raise UserCodeError(
            str(error.get("message") or error.get("type") or "the code failed to load"),
            filename=filename if isinstance(filename, str) else None,
            lineno=lineno if isinstance(lineno, int) and not isinstance(lineno, bool) else None,
            traceback=traceback if isinstance(traceback, str) else None,
        )
    triggers = doc.get("triggers") or []
    providers = doc.get("providers") or []
    if not isinstance(triggers, list) or not isinstance(providers, list):
        raise InvalidInput("definitions.triggers and definitions.providers must be lists")
    from floww.sdk.wire import provider_fields_from_wire

    return Definitions(
        triggers=tuple(spec_from_wire(spec) for spec in triggers),
        providers=tuple(_ref_from_wire(ref, "definitions.providers[]") for ref in providers),
        provider_fields={ref.key: f for ref, f in provider_fields_from_wire(doc).items()},
    )
