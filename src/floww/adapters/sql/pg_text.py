"""The execution writes' parameters as the text libpq sends, made without the generic layers.

The loop's writes (``loop_writes.py``) send each parameter as text, typed by the statement's
own casts. The generic way to that text runs each value through its column type's bind
processor (SQLAlchemy) and then psycopg's dumper for its Python type: about 13 us for the
twenty parameters of an execution's insert, on the event loop, twice per webhook call. The
values of these statements are nearly always of a handful of plain types, and their text is
plain too:

- ``str`` (string columns): its UTF-8 bytes;
- ``int`` (integer and float columns), a finite ``float`` (float columns): ``str``/``repr``;
- a ``datetime`` in ``UTC`` (the timestamp columns): ISO 8601 with its offset;
- JSON columns: the engine's JSON serializer's text (the same text the generic way sends), or
  for ``None`` JSON's ``null`` or SQL ``NULL`` as the column type says;
- ``None`` elsewhere: SQL ``NULL``.

``TextParams(prepared, serializer).encode(values)`` gives that text for every parameter, or
``None`` as soon as one value is anything else (a subclass, a string holding a NUL, which
libpq would cut off, a naive or non-UTC datetime, an infinite float, a value of a type no rule
above names, a statement constant): the caller then takes the generic way, which converts or
refuses it exactly as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import types as sqltypes

from floww.adapters.sql.direct import Prepared
from floww.adapters.sql.types import UtcDateTime

__all__ = ["TextParams"]


class _Unusual(Exception):
    """A value the plain rules do not cover: the generic way converts it."""


_UNUSUAL = _Unusual()

Encoder = Callable[[Any], bytes | None]


def _string(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is str and "\x00" not in value:
        return value.encode()
    raise _UNUSUAL


def _integer(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is int:
        return str(value).encode()
    raise _UNUSUAL


def _float(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is int:
        return str(value).encode()
    if type(value) is float and math.isfinite(value):
        return repr(value).encode()
    raise _UNUSUAL


def _timestamp(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is datetime and value.tzinfo is UTC:
        return value.isoformat().encode()
    raise _UNUSUAL


_JSON_TYPES = (dict, list, str, int, float, bool)


def _json(serializer: Callable[[Any], str], none_as_null: bool) -> Encoder:
    null = None if none_as_null else b"null"

    def encode(value: Any) -> bytes | None:
        if value is None:
            return null
        if type(value) in _JSON_TYPES:
            return serializer(value).encode()
        raise _UNUSUAL

    return encode


def _encoder(column_type: Any, serializer: Callable[[Any], str]) -> Encoder | None:
    if isinstance(column_type, UtcDateTime):
        return _timestamp
    if isinstance(column_type, sqltypes.JSON):
        return _json(serializer, bool(column_type.none_as_null))
    if isinstance(column_type, sqltypes.String):
        return _string
    if isinstance(column_type, sqltypes.Float):
        return _float
    if isinstance(column_type, sqltypes.Integer) and not isinstance(column_type, sqltypes.Boolean):
        return _integer
    return None


class TextParams:
    """The text parameters of ``prepared`` for plain values (see the module)."""

    def __init__(self, prepared: Prepared, serializer: Callable[[Any], str]) -> None:
        encoders = [_encoder(column_type, serializer) for column_type in prepared.types]
        self._plan: list[tuple[str, Encoder]] | None = (
            None
            if prepared.fixed or any(encoder is None for encoder in encoders)
            else [
                (name, encoder)
                for name, encoder in zip(prepared.names, encoders, strict=True)
                if encoder is not None
            ]
        )

    def encode(self, values: Mapping[str, Any]) -> list[bytes | None] | None:
        """Each parameter's text, in order; ``None`` when one needs the generic way."""
        plan = self._plan
        if plan is None:
            return None
        try:
            return [encode(values[name]) for name, encode in plan]
        except (_Unusual, KeyError):
            return None
