"""The runtime contract's codec (docs/architecture.md, "Wire contracts"): snake_case JSON, for
both sides of it.

The runtime decodes requests (``code_from_wire``, ``spec_from_wire``, ``execution_from_wire``,
...) and hosts encode them (``invocation_to_wire``, ``definitions_request``) and decode the
answers (``definitions_from_wire``, ``result_from_wire``). Datetimes travel as ISO-8601
strings. This module runs inside user runtimes, so it needs nothing beyond the domain.

Decoding is where untrusted input meets the domain: every ``*_from_wire`` function raises
``InvalidInput`` naming the malformed part instead of a codec error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from floww.domain.errors import InvalidInput, UserCodeError
from floww.domain.model import (
    CodeBundle,
    Definitions,
    ErrorInfo,
    ExecutionContext,
    Invocation,
    InvocationResult,
    LogLine,
    ProviderField,
    ProviderRef,
    TriggerSpec,
)
from floww.domain.wiredict import ref_from_dict, spec_as_dict, spec_from_dict

__all__ = [
    "code_from_wire",
    "code_to_wire",
    "datetime_from_wire",
    "definitions_from_wire",
    "definitions_request",
    "definitions_to_wire",
    "execution_from_wire",
    "invocation_from_wire",
    "invocation_to_wire",
    "logline_from_wire",
    "logline_to_wire",
    "provider_fields_from_wire",
    "providers_from_wire",
    "ref_from_wire",
    "result_from_wire",
    "result_to_wire",
    "spec_from_wire",
    "spec_to_wire",
]

T = TypeVar("T")


# code bundles ---------------------------------------------------------------------------------


def code_to_wire(code: CodeBundle, *, include_files: bool = True) -> dict[str, Any]:
    """``{"digest", "entrypoint", "files"}``; without files a warm runtime that cached the
    digest can still run it."""
    doc: dict[str, Any] = {"digest": code.digest, "entrypoint": code.entrypoint}
    if include_files:
        doc["files"] = dict(code.files)
    return doc


def code_from_wire(data: object) -> CodeBundle:
    """A bundle with its files; ``InvalidInput`` when they are missing, are not text, or do not
    match the ``digest`` sent along."""
    doc = _mapping(data, "code")
    entrypoint = _field(doc, "entrypoint", str, "code")
    files = _mapping(_field(doc, "files", dict, "code"), "code.files")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise InvalidInput("code.files must map file names to text")
    bundle = CodeBundle(entrypoint, dict(files))
    digest = doc.get("digest")
    if digest is not None and digest != bundle.digest:
        raise InvalidInput(f"code.digest {digest!r} does not match its files")
    return bundle


# providers and trigger specs ------------------------------------------------------------------


def ref_from_wire(data: object, what: str = "provider") -> ProviderRef:
    """``{"type", "alias"}``; a missing alias is ``default``."""
    return ref_from_dict(data, what)


def spec_to_wire(spec: TriggerSpec) -> dict[str, Any]:
    return spec_as_dict(spec)


def spec_from_wire(data: object) -> TriggerSpec:
    return spec_from_dict(data, "trigger")


def providers_from_wire(data: object) -> dict[str, dict[str, str]]:
    """Provider configs keyed ``type:alias`` (absent is none); values are read as text."""
    doc = _mapping(data if data is not None else {}, "providers")
    configs: dict[str, dict[str, str]] = {}
    for key, config in doc.items():
        ProviderRef.parse(key)
        configs[key] = {str(k): str(v) for k, v in _mapping(config, f"providers.{key}").items()}
    return configs


def _fields_to_wire(fields: tuple[ProviderField, ...]) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "label": f.label, "secret": f.secret, "required": f.required}
        for f in fields
    ]


def _fields_from_wire(data: object, what: str) -> tuple[ProviderField, ...]:
    if not isinstance(data, list):
        raise InvalidInput(f"{what} must be a list, got {type(data).__name__}")
    found: list[ProviderField] = []
    for raw in data:
        doc = _mapping(raw, f"{what}[]")
        found.append(
            ProviderField(
                name=_field(doc, "name", str, f"{what}[]"),
                label=_optional(doc, "label", str, "", f"{what}[]"),
                secret=_optional(doc, "secret", bool, False, f"{what}[]"),
                required=_optional(doc, "required", bool, True, f"{what}[]"),
            )
        )
    return tuple(found)


def provider_fields_from_wire(data: object) -> dict[ProviderRef, tuple[ProviderField, ...]]:
    """The ``fields`` of each provider in a ``get_definitions`` answer that carries them."""
    found: dict[ProviderRef, tuple[ProviderField, ...]] = {}
    for entry in _list(_mapping(data, "definitions").get("providers"), "definitions.providers"):
        ref = ref_from_wire(entry, "definitions.providers[]")
        fields = _mapping(entry, "definitions.providers[]").get("fields")
        if fields is not None:
            found[ref] = _fields_from_wire(fields, f"definitions.providers[{ref.key}].fields")
    return found


# executions and invocations -------------------------------------------------------------------


def execution_from_wire(data: object) -> ExecutionContext:
    """``{"id", "token", "api_url", "deadline_ms", "workflow_id"?}``."""
    doc = _mapping(data, "execution")
    return ExecutionContext(
        id=_field(doc, "id", str, "execution"),
        token=_field(doc, "token", str, "execution"),
        api_url=_field(doc, "api_url", str, "execution"),
        deadline_ms=_field(doc, "deadline_ms", int, "execution"),
        workflow_id=_optional(doc, "workflow_id", str, "", "execution"),
    )


def invocation_to_wire(invocation: Invocation, *, include_files: bool = True) -> dict[str, Any]:
    execution = invocation.execution
    return {
        "type": "invoke_trigger",
        "code": code_to_wire(invocation.code, include_files=include_files),
        "trigger": spec_to_wire(invocation.trigger),
        "event": dict(invocation.event),
        "providers": {key: dict(config) for key, config in invocation.providers.items()},
        "execution": {
            "id": execution.id,
            "token": execution.token,
            "api_url": execution.api_url,
            "deadline_ms": execution.deadline_ms,
            "workflow_id": execution.workflow_id,
        },
    }


def invocation_from_wire(data: object) -> Invocation:
    """An ``invoke_trigger`` request that carries its code's files."""
    doc = _mapping(data, "invocation")
    if doc.get("type") != "invoke_trigger":
        raise InvalidInput(f"invocation.type must be 'invoke_trigger', not {doc.get('type')!r}")
    return Invocation(
        code=code_from_wire(doc.get("code")),
        trigger=spec_from_wire(doc.get("trigger")),
        event=dict(_mapping(doc.get("event", {}), "event")),
        providers=providers_from_wire(doc.get("providers")),
        execution=execution_from_wire(doc.get("execution")),
    )


# log lines and results ------------------------------------------------------------------------


def logline_to_wire(line: LogLine) -> dict[str, Any]:
    return {
        "at": line.at.isoformat(),
        "level": line.level,
        "message": line.message,
        "fields": dict(line.fields),
    }


def logline_from_wire(data: object) -> LogLine:
    doc = _mapping(data, "log line")
    return LogLine(
        at=datetime_from_wire(doc.get("at"), "log line.at"),
        level=_field(doc, "level", str, "log line"),
        message=_field(doc, "message", str, "log line"),
        fields=dict(_mapping(doc.get("fields") or {}, "log line.fields")),
    )


def result_to_wire(result: InvocationResult) -> dict[str, Any]:
    """The ``invoke_trigger`` answer; ``error`` only when there is one."""
    doc: dict[str, Any] = {
        "ok": result.ok,
        "result": result.result,
        "logs": [logline_to_wire(line) for line in result.logs],
        "duration_ms": result.duration_ms,
    }
    if result.error is not None:
        error = result.error
        doc["error"] = {"type": error.type, "message": error.message, "traceback": error.traceback}
    return doc


def result_from_wire(data: object) -> InvocationResult:
    """An ``invoke_trigger`` answer; absent ``logs``, ``duration_ms`` and ``error`` are empty."""
    doc = _mapping(data, "invocation result")
    error = doc.get("error")
    logs = doc.get("logs")
    duration = doc.get("duration_ms")
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, int | float)
    ):
        raise InvalidInput(f"duration_ms must be a number, got {type(duration).__name__}")
    return InvocationResult(
        ok=_field(doc, "ok", bool, "invocation result"),
        result=doc.get("result"),
        logs=tuple(logline_from_wire(line) for line in _list(logs, "logs")),
        duration_ms=float(duration or 0.0),
        error=None if error is None else _error_from_wire(error),
    )


def _error_from_wire(data: object) -> ErrorInfo:
    doc = _mapping(data, "error")
    traceback = doc.get("traceback") or ""
    return ErrorInfo(
        type=str(doc.get("type") or "Error"),
        message=str(doc.get("message") or ""),
        traceback=traceback if isinstance(traceback, str) else str(traceback),
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
    """The ``get_definitions`` answer; a provider with known credential fields
    (``definitions.provider_fields``) carries them as ``fields``."""
    providers: list[dict[str, Any]] = []
    for ref in definitions.providers:
        entry: dict[str, Any] = {"type": ref.type, "alias": ref.alias}
        if ref.key in definitions.provider_fields:
            entry["fields"] = _fields_to_wire(definitions.provider_fields[ref.key])
        providers.append(entry)
    return {
        "ok": True,
        "triggers": [spec_to_wire(spec) for spec in definitions.triggers],
        "providers": providers,
    }


def definitions_from_wire(data: object) -> Definitions:
    """Decode a ``get_definitions`` answer.

    An ``ok: false`` answer of type ``UserCodeError`` raises ``UserCodeError`` pointing at the
    user's file and line when the runtime knew them; any other failure (a request the runtime
    refused) raises ``InvalidInput`` naming its type and message.
    """
    doc = _mapping(data, "definitions")
    if not _field(doc, "ok", bool, "definitions"):
        error = _mapping(doc.get("error") or {}, "definitions.error")
        message = str(error.get("message") or "")
        if error.get("type") != "UserCodeError":
            raise InvalidInput(f"the runtime refused: {error.get('type') or 'Error'}: {message}")
        filename, lineno, traceback = (
            error.get("filename"),
            error.get("lineno"),
            error.get("traceback"),
        )
        raise UserCodeError(
            message or "the code failed to load",
            filename=filename if isinstance(filename, str) else None,
            lineno=lineno if isinstance(lineno, int) and not isinstance(lineno, bool) else None,
            traceback=traceback if isinstance(traceback, str) else None,
        )
    triggers = _list(doc.get("triggers"), "definitions.triggers")
    providers = _list(doc.get("providers"), "definitions.providers")
    return Definitions(
        triggers=tuple(spec_from_wire(spec) for spec in triggers),
        providers=tuple(ref_from_wire(ref, "definitions.providers[]") for ref in providers),
        provider_fields={ref.key: f for ref, f in provider_fields_from_wire(doc).items()},
    )


# helpers --------------------------------------------------------------------------------------


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be an object, got {type(value).__name__}")
    return value


def _list(value: object, what: str) -> list[Any]:
    """A list; absent (``None``) is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{what} must be a list, got {type(value).__name__}")
    return value


def _field(doc: Mapping[str, Any], name: str, kind: type[T], what: str) -> T:
    if name not in doc:
        raise InvalidInput(f"{what} is missing {name!r}")
    value = doc[name]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InvalidInput(f"{what}.{name} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _optional(doc: Mapping[str, Any], name: str, kind: type[T], default: T, what: str) -> T:
    if doc.get(name) is None:
        return default
    return _field(doc, name, kind, what)


def datetime_from_wire(value: object, what: str = "datetime") -> datetime:
    """An ISO-8601 string; a naive one is read as UTC (floww never writes one, but peers might)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be an ISO-8601 string, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} is not an ISO-8601 datetime: {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
