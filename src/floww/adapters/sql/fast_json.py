"""JSON for the SQL adapter's columns, with orjson where it gives the same answer.

Every execution's event, result and logs are checked (``json_copy``: plain JSON, no NaN) and
serialised for their columns; with the standard library that was a dozen encoder calls per
webhook request, a tenth of the server's time on it. orjson does the common case in C:

- ``json_copy`` gives what ``floww.domain.canonical.json_copy`` gives, keys sorted at every
  depth as there (so stored text keeps its order). Whatever orjson refuses
  (keys that are not strings, integers past 64 bits, unknown types, datetimes and subclasses of
  the JSON types, which are passed through to the strict path) and any value whose encoding
  holds a ``null`` (orjson writes NaN and the infinities as ``null``) goes through the strict
  path, which decides. orjson also encodes ``uuid.UUID`` and enums by value, where the strict
  path refuses them: such values (which no JSON decoder produces, so no request or handler
  result can hold them) are stored as their JSON spelling.
- ``dumps`` is the engine's ``json_serializer``: compact JSON text, the standard library's for
  what orjson refuses or spells ``null`` (so a NaN stored without a check reads back as the
  standard library wrote it). Stored text has no spaces after separators; every reader parses
  it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from floww.domain import canonical

__all__ = ["dumps", "json_copy"]

_REFUSED = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
"""Types the standard library refuses and orjson would encode: left to the standard library."""
_STRICT = _REFUSED | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_SORT_KEYS
"""For ``json_copy``: keys sorted at every depth, as ``canonical_json`` sorts them."""


def json_copy(value: Any) -> Any:
    """``value`` as plain JSON (a deep copy); ``InvalidInput`` when it is not JSON."""
    if value is None or type(value) is str or type(value) is bool:
        return value
    try:
        encoded = orjson.dumps(value, option=_STRICT)
    except TypeError:
        return canonical.json_copy(value)
    if b"null" in encoded:
        return canonical.json_copy(value)
    return orjson.loads(encoded)


def dumps(value: Any) -> str:
    """``value`` as compact JSON text (the columns' serializer)."""
    if value is None:  # an empty result or error column: the most common value of all
        return "null"
    try:
        encoded = orjson.dumps(value, option=_REFUSED)
    except TypeError:
        return json.dumps(value, separators=(",", ":"))
    if b"null" in encoded:
        return json.dumps(value, separators=(",", ":"))
    return encoded.decode()
