"""What importing user code declares, recorded in the registry that is active at the time.

The collector activates a ``Declarations`` (held in a ``ContextVar``) while it imports the
user's module. Provider constructors and trigger decorators report to it; with none active
(a user calling or testing a handler directly) they record nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import Any

import attrs

from floww.domain.canonical import canonical_json
from floww.domain.errors import InvalidInput
from floww.domain.model import ProviderField, ProviderRef, TriggerSpec

__all__ = [
    "Declarations",
    "DeclaredTrigger",
    "check_handler",
    "check_name",
    "collecting",
    "declare_provider",
    "declare_trigger",
    "trigger_spec",
    "user_location",
]

Handler = Callable[..., Any]


@attrs.frozen
class DeclaredTrigger:
    """A trigger spec, its handler, and where in the user's code it was declared."""

    spec: TriggerSpec
    handler: Handler
    filename: str
    lineno: int


@attrs.define
class Declarations:
    triggers: list[DeclaredTrigger] = attrs.field(factory=list)
    providers: dict[ProviderRef, tuple[ProviderField, ...]] = attrs.field(factory=dict)


_active: ContextVar[Declarations | None] = ContextVar("floww_declarations", default=None)


@contextmanager
def collecting() -> Iterator[Declarations]:
    """Activate a fresh registry for the enclosed code and yield it."""
    declarations = Declarations()
    token = _active.set(declarations)
    try:
        yield declarations
    finally:
        _active.reset(token)


def declare_provider(ref: ProviderRef, fields: tuple[ProviderField, ...]) -> None:
    declarations = _active.get()
    if declarations is not None:
        declarations.providers.setdefault(ref, fields)


def declare_trigger(spec: TriggerSpec, handler: Handler, location: tuple[str, int]) -> None:
    declarations = _active.get()
    if declarations is not None:
        declarations.triggers.append(DeclaredTrigger(spec, handler, *location))


def user_location() -> tuple[str, int]:
    """The file and line of the user's decorator: the innermost caller that is neither the SDK
    nor a method of a provider (so a provider type written in user code points at its use)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and (_in_sdk(frame) or _in_provider_method(frame)):
        frame = frame.f_back
    return frame.f_code.co_filename, frame.f_lineno


def _in_sdk(frame: FrameType) -> bool:
    module = frame.f_globals.get("__name__", "")
    return isinstance(module, str) and (module == "floww" or module.startswith("floww.sdk"))


def _in_provider_method(frame: FrameType) -> bool:
    if frame.f_code.co_varnames[:1] != ("self",):
        return False
    owner = frame.f_locals.get("self")
    return any(
        cls.__name__ == "Provider" and cls.__module__ == "floww.sdk.providers.base"
        for cls in type(owner).__mro__
    )


def trigger_spec(ref: ProviderRef, trigger_type: str, input: dict[str, Any]) -> TriggerSpec:
    try:
        canonical_json(input)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{trigger_type} trigger input is not JSON: {exc}") from exc
    return TriggerSpec(ref, trigger_type, input)


def check_name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be a non-empty string, not {value!r}")
    if what == "provider alias" and ":" in value:
        raise InvalidInput(f"provider alias must not contain ':': {value!r}")
    return value


def check_handler(handler: object) -> None:
    if not callable(handler):
        raise InvalidInput(f"a trigger decorator must be applied to a function, not {handler!r}")
