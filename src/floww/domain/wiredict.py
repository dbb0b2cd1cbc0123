"""Plain-dict spellings of trigger specs and provider refs: the one codec for them, used by the
use cases (realtime messages) and re-exported by the runtime contract codec ``floww.sdk.wire``.
Decoders are strict and raise ``InvalidInput`` naming the offending field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from floww.domain.errors import InvalidInput
from floww.domain.model import ProviderRef, TriggerSpec

__all__ = ["ref_from_dict", "spec_as_dict", "spec_from_dict"]


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be an object, not {type(value).__name__}")
    return value


def ref_from_dict(data: object, what: str = "provider") -> ProviderRef:
    """``{"type", "alias"}``; a missing alias is ``default``."""
    doc = _mapping(data, what)
    type_, alias = doc.get("type"), doc.get("alias", "default")
    if not isinstance(type_, str) or not type_:
        raise InvalidInput(f"{what}.type must be a non-empty string")
    if not isinstance(alias, str) or not alias:
        raise InvalidInput(f"{what}.alias must be a non-empty string")
    return ProviderRef(type_, alias)


def spec_as_dict(spec: TriggerSpec) -> dict[str, Any]:
    return {
        "provider": {"type": spec.provider.type, "alias": spec.provider.alias},
        "trigger_type": spec.trigger_type,
        "input": dict(spec.input),
    }


def spec_from_dict(data: object, what: str = "trigger") -> TriggerSpec:
    doc = _mapping(data, what)
    provider = ref_from_dict(doc.get("provider"), f"{what}.provider")
    trigger_type = doc.get("trigger_type")
    if not isinstance(trigger_type, str) or not trigger_type:
        raise InvalidInput(f"{what}.trigger_type must be a non-empty string")
    return TriggerSpec(
        provider, trigger_type, dict(_mapping(doc.get("input", {}), f"{what}.input"))
    )
