"""The SQL adapter's JSON helpers give the strict standard-library answers."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww.adapters.sql import fast_json
from floww.domain import canonical
from floww.domain.errors import InvalidInput

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text() | st.integers(), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=20,
)


@given(_values)
def test_json_copy_answers_as_the_strict_copy_does(value: Any) -> None:
    try:
        expected = canonical.json_copy(value)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            fast_json.json_copy(value)
        return
    copied = fast_json.json_copy(value)
    assert copied == expected
    assert json.dumps(copied) == json.dumps(expected)  # the same keys in the same order


@pytest.mark.parametrize(
    "value",
    [
        {"a": math.nan},
        [math.inf],
        {"at": datetime(2026, 1, 1, tzinfo=UTC)},
        {"s": {1, 2}},
        object(),
    ],
)
def test_json_copy_refuses_what_is_not_json(value: Any) -> None:
    with pytest.raises(InvalidInput):
        fast_json.json_copy(value)


def test_json_copy_orders_keys_as_the_strict_copy_does() -> None:
    value = {"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": "x"}}
    assert json.dumps(fast_json.json_copy(value)) == json.dumps(canonical.json_copy(value))


def test_json_copy_keeps_big_integers_and_gives_a_copy() -> None:
    value = {"big": 2**70, "list": [1, {"x": "y"}]}
    copied = fast_json.json_copy(value)
    assert copied == value and copied["big"] == 2**70
    copied["list"][1]["x"] = "z"
    assert value["list"][1]["x"] == "y"


@given(_values)
def test_dumps_text_parses_back_as_the_standard_encoding_does(value: Any) -> None:
    ours, theirs = json.loads(fast_json.dumps(value)), json.loads(json.dumps(value))
    assert repr(ours) == repr(theirs)  # repr: NaN equals NaN here


@pytest.mark.parametrize("value", [math.inf, {"a": [-math.inf, math.nan]}, None, {"n": None}])
def test_dumps_writes_what_orjson_would_spell_null_as_the_standard_library_does(
    value: Any,
) -> None:
    assert fast_json.dumps(value) == json.dumps(value, separators=(",", ":"))
