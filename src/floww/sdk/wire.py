"""The runtime contract's codecs (snake_case JSON), for both sides of it.

The runtime decodes requests (``code_from_wire``, ``spec_from_wire``, ...); hosts encode them
(``invocation_to_wire``, ``definitions_request``) and decode answers (``definitions_from_wire``,
``result_from_wire``). Decoders raise ``InvalidInput`` naming the malformed part.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

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

__all__ = [
    "code_to_wire",
    "definitions_from_wire",
    "definitions_request",
    "definitions_to_wire",
    "execution_from_wire",
    "invocation_to_wire",
    "provider_fields_from_wire",
    "providers_from_wire",
    "ref_from_wire",
    "result_from_wire",
    "spec_from_wire",
    "spec_to_wire",
]


def code_to_wire(code: CodeBundle, *, include_files: bool = True) -> dict[str, Any]:
    wire: dict[str, Any] = {"digest": code.digest, "entrypoint": code.entrypoint}
    if include_files:
        wire["files"] = dict(code.files)
    return wire


def ref_from_wire(wire: Any) -> ProviderRef:
    obj = _object(wire, "provider")
    return ProviderRef(_string(obj, "type", "provider"), _string(obj, "alias", "provider"))


def spec_to_wire(spec: TriggerSpec) -> dict[str, Any]:
    return {
        "provider": {"type": spec.provider.type, "alias": spec.provider.alias},
        "trigger_type": spec.trigger_type,
        "input": dict(spec.input),
    }


def spec_from_wire(wire: Any) -> TriggerSpec:
    obj = _object(wire, "trigger")
    return TriggerSpec(
        ref_from_wire(obj.get("provider")),
        _string(obj, "trigger_type", "trigger"),
        _object(obj.get("input", {}), "trigger input"),
    )


def providers_from_wire(wire: Any) -> dict[str, dict[str, str]]:
    obj = _object(wire if wire is not None else {}, "providers")
    configs: dict[str, dict[str, str]] = {}
    for key, config in obj.items():
        ProviderRef.parse(key)
        configs[key] = {str(k): str(v) for k, v in _object(config, f"provider {key}").items()}
    return configs


def execution_from_wire(wire: Any) -> ExecutionContext:
    obj = _object(wire if wire is not None else {}, "execution")
    try:
        deadline = int(obj.get("deadline_ms") or 0)
    except (TypeError, ValueError):
        raise InvalidInput("execution.deadline_ms must be an integer") from None
    return ExecutionContext(
        id=str(obj.get("id") or ""),
        token=str(obj.get("token") or ""),
        api_url=str(obj.get("api_url") or ""),
        deadline_ms=deadline,
        workflow_id=str(obj.get("workflow_id") or ""),
    )


def definitions_to_wire(
    definitions: Definitions,
    provider_fields: Mapping[ProviderRef, tuple[ProviderField, ...]] | None = None,
) -> dict[str, Any]:
    """The ``get_definitions`` answer. With ``provider_fields``, each provider also carries the
    ``fields`` its credentials consist of (a ``Secret`` declares its own)."""
    providers: list[dict[str, Any]] = []
    for ref in definitions.providers:
        entry: dict[str, Any] = {"type": ref.type, "alias": ref.alias}
        if provider_fields is not None and ref in provider_fields:
            entry["fields"] = [attrs.asdict(field) for field in provider_fields[ref]]
        providers.append(entry)
    return {
        "ok": True,
        "triggers": [spec_to_wire(spec) for spec in definitions.triggers],
        "providers": providers,
    }


def provider_fields_from_wire(wire: Any) -> dict[ProviderRef, tuple[ProviderField, ...]]:
    """The ``fields`` of each provider in a ``get_definitions`` answer that carries them."""
    obj = _object(wire, "answer")
    found: dict[ProviderRef, tuple[ProviderField, ...]] = {}
    for entry in obj.get("providers", []):
        if isinstance(entry, dict) and isinstance(entry.get("fields"), list):
            found[ref_from_wire(entry)] = tuple(
                ProviderField(
                    name=str(f["name"]),
                    label=str(f.get("label", "")),
                    secret=bool(f.get("secret", False)),
                    required=bool(f.get("required", True)),
                )
                for f in entry["fields"]
            )
    return found


def definitions_request(
    code: CodeBundle, providers: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    return {
        "type": "get_definitions",
        "code": code_to_wire(code),
        "providers": {key: dict(config) for key, config in providers.items()},
    }


def definitions_from_wire(wire: Any) -> Definitions:
    """The definitions in a ``get_definitions`` answer; its error re-raised as ``UserCodeError``
    (or ``InvalidInput`` for a request the runtime refused)."""
    obj = _object(wire, "answer")
    if not obj.get("ok"):
        error = _object(obj.get("error", {}), "error")
        if error.get("type") == "UserCodeError":
            raise UserCodeError(
                str(error.get("message", "")),
                filename=error.get("filename"),
                lineno=error.get("lineno"),
                traceback=error.get("traceback"),
            )
        raise InvalidInput(f"{error.get('type', 'Error')}: {error.get('message', '')}")
    triggers = tuple(spec_from_wire(t) for t in obj.get("triggers", []))
    providers = tuple(ref_from_wire(p) for p in obj.get("providers", []))
    return Definitions(triggers=triggers, providers=providers)


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


def result_from_wire(wire: Any) -> InvocationResult:
    obj = _object(wire, "answer")
    logs = tuple(
        LogLine(
            at=datetime.fromisoformat(line["at"]),
            level=str(line.get("level", "info")),
            message=str(line.get("message", "")),
            fields=line.get("fields") or {},
        )
        for line in obj.get("logs", [])
    )
    error = None
    if not obj.get("ok"):
        raw = _object(obj.get("error", {}), "error")
        error = ErrorInfo(
            type=str(raw.get("type", "Error")),
            message=str(raw.get("message", "")),
            traceback=str(raw.get("traceback") or ""),
        )
    return InvocationResult(
        ok=bool(obj.get("ok")),
        result=obj.get("result"),
        logs=logs,
        duration_ms=float(obj.get("duration_ms") or 0.0),
        error=error,
    )


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be an object, not {type(value).__name__}")
    return value


def _string(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what}.{key} must be a non-empty string")
    return value
