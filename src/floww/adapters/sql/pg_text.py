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

The rules apply to columns declared with exactly one of the plain string, integer, float and
JSON types or ``UtcDateTime`` (a subclass may convert in its bind processor: ``Enum``
validates); a JSON column's ``None`` is written as the dialect's type says.
``TextParams(prepared, dialect, serializer).encode(values)`` gives that text for every
parameter, or ``None`` as soon as one value is anything else (a subclass, a string holding a
NUL, which libpq would cut off, or a lone surrogate, a naive or non-UTC datetime, an infinite
float, an integer too long for text, JSON the serializer refuses, a value of a type no rule
above names, a statement constant): the caller then takes the generic way, which converts or
refuses it exactly as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from floww.adapters.sql.direct import Prepared
from floww.adapters.sql.types import UtcDateTime

__all__ = ["TextParams"]


class _Unusual(Exception):
    """A value the plain rules do not cover: the generic way converts it."""


Encoder = Callable[[Any], bytes | None]


def _string(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is str and "\x00" not in value:
        return value.encode()
    raise _Unusual


def _integer(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is int:
        return str(value).encode()
    raise _Unusual


def _float(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is int:
        return str(value).encode()
    if type(value) is float and math.isfinite(value):
        return repr(value).encode()
    raise _Unusual


def _timestamp(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is datetime and value.tzinfo is UTC:
        return value.isoformat().encode()
    raise _Unusual


_JSON_TYPES = (dict, list, str, int, float, bool)


def _json(serializer: Callable[[Any], str], none_as_null: bool) -> Encoder:
    null = None if none_as_null else b"null"

    def encode(value: Any) -> bytes | None:
        if value is None:
            return null
        if type(value) in _JSON_TYPES:
            return serializer(value).encode()
        raise _Unusual

    return encode


# The declared column types these rules cover (exact classes: a subclass may convert in its
# bind processor, as ``Enum`` validates).
_STRINGS = (sqltypes.String, sqltypes.VARCHAR, sqltypes.Text, sqltypes.TEXT)
_INTEGERS = (sqltypes.Integer, sqltypes.INTEGER, sqltypes.BigInteger, sqltypes.BIGINT)
_FLOATS = (sqltypes.Float, sqltypes.FLOAT, sqltypes.Double, sqltypes.DOUBLE_PRECISION)
_JSONS = (sqltypes.JSON, postgresql.JSON, postgresql.JSONB)


def _encoder(
    column_type: Any, dialect: Dialect, serializer: Callable[[Any], str]
) -> Encoder | None:
    declared = type(column_type)
    if declared is UtcDateTime:
        return _timestamp
    if declared in _JSONS:
        # as the dialect stores it (a variant may say otherwise than the base type)
        none_as_null = getattr(column_type.dialect_impl(dialect), "none_as_null", None)
        return None if none_as_null is None else _json(serializer, bool(none_as_null))
    if declared in _STRINGS:
        return _string
    if declared in _FLOATS:
        return _float
    if declared in _INTEGERS:
        return _integer
    return None


class TextParams:
    """The text parameters of ``prepared`` for plain values (see the module)."""

    def __init__(
        self, prepared: Prepared, dialect: Dialect, serializer: Callable[[Any], str]
    ) -> None:
        encoders = [_encoder(column_type, dialect, serializer) for column_type in prepared.types]
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
        except Exception:
            # unusual, missing or refused here (a lone surrogate, an integer too long for text,
            # JSON the serializer refuses): the generic conversion decides, with the errors it
            # always gave
            return None
