"""Domain values to and from JSON-ready data, for the layers that persist or serve them (SQL
columns, the HTTP API). Shapes are snake_case; datetimes travel as ISO-8601 strings and enums by
value.

``structure`` is where stored or received data meets the domain: it raises ``InvalidInput`` for a
malformed document instead of a codec error. The runtime contract has its own light codec in
``floww.sdk.wire``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

import cattrs

from floww.domain import model
from floww.domain.errors import InvalidInput
from floww.domain.provider_hooks import HookOutcome
from floww.domain.triggers import WebhookEndpoint
from floww.sdk.wire import datetime_from_wire

__all__ = [
    "endpoints_from_json",
    "endpoints_json",
    "hook_outcomes_from_json",
    "hook_outcomes_json",
    "structure",
    "unstructure",
]

T = TypeVar("T")


def _parse_datetime(value: object, _: object = None) -> datetime:
    return datetime_from_wire(value.isoformat() if isinstance(value, datetime) else value)


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


def endpoints_json(endpoints: Iterable[WebhookEndpoint]) -> list[dict[str, Any]]:
    """A deploy's webhook URLs as its receipt shows them: method, URL and the triggers."""
    return [{"method": e.method, "url": e.url, "triggers": list(e.triggers)} for e in endpoints]


def endpoints_from_json(docs: Iterable[Any]) -> tuple[WebhookEndpoint, ...]:
    return tuple(
        WebhookEndpoint(str(e["method"]), str(e["url"]), tuple(str(t) for t in e["triggers"]))
        for e in docs
    )


def hook_outcomes_json(outcomes: Iterable[HookOutcome]) -> list[dict[str, Any]]:
    """What registering provider webhooks did, as a receipt shows it: never the
    ``config_update`` (secrets the provider generated)."""
    return [
        {
            "provider": h.provider,
            "target": h.target,
            "url": h.url,
            "action": h.action,
            "message": h.message,
        }
        for h in outcomes
    ]


def hook_outcomes_from_json(docs: Iterable[Any]) -> tuple[HookOutcome, ...]:
    return tuple(
        HookOutcome(
            str(h["provider"]), str(h["target"]), str(h["url"]), str(h["action"]), str(h["message"])
        )
        for h in docs
    )
