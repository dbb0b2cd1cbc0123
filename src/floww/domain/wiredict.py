"""Plain-dict spellings of the few domain values that travel inside realtime messages and
events. Full codecs live with the adapters; these are the ones the use cases themselves put on
a channel."""

from __future__ import annotations

from typing import Any

from floww.domain.errors import InvalidInput
from floww.domain.model import ProviderRef, TriggerSpec

__all__ = ["spec_as_dict", "spec_from_dict"]


def spec_as_dict(spec: TriggerSpec) -> dict[str, Any]:
    return {
        "provider": {"type": spec.provider.type, "alias": spec.provider.alias},
        "trigger_type": spec.trigger_type,
        "input": dict(spec.input),
    }


def spec_from_dict(data: Any) -> TriggerSpec:
    """``InvalidInput`` when ``data`` is not a trigger spec."""
    try:
        provider = data["provider"]
        spec = TriggerSpec(
            provider=ProviderRef(str(provider["type"]), str(provider.get("alias", "default"))),
            trigger_type=str(data["trigger_type"]),
            input=dict(data.get("input") or {}),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InvalidInput(f"not a trigger spec: {exc}") from exc
    return spec
