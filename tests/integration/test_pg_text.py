"""The execution writes' parameters as text made directly (``pg_text.py``): stored exactly as
the generic conversion stores them, on the machine's PostgreSQL server (skipped without one,
failing in CI), and left to the generic conversion for any value the plain rules do not
cover."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Enum, Float, Integer, MetaData, String, Table, select

from floww.adapters.sql import fast_json, make_engine
from floww.adapters.sql.direct import Prepared
from floww.adapters.sql.loop_writes import LoopWrites
from floww.adapters.sql.pg_text import TextParams
from floww.adapters.sql.types import Json, JsonOrNull, UtcDateTime
from floww.domain.errors import Unavailable
from tests.integration.postgres import fresh_engine

_metadata = MetaData()
_things = Table(
    "things",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64)),
    Column("at", UtcDateTime()),
    Column("doc", Json),
    Column("maybe", JsonOrNull),
    Column("ratio", Float()),
)
_COLUMNS = [c.name for c in _things.c]
_AT = datetime(2026, 12, 1, 0, 39, 5, 123456, tzinfo=UTC)

_CASES: list[dict[str, Any]] = [
    {"name": "ada", "at": _AT, "doc": {"b": [1, 2.5, "x"], "a": None}, "maybe": {"k": True}},
    {"name": "é ∑ 🙂", "at": _AT.replace(microsecond=0), "doc": None, "maybe": None},
    {"name": None, "at": None, "doc": [], "maybe": "text", "ratio": 0.1},
    {"name": "", "at": datetime(1999, 1, 1, tzinfo=UTC), "doc": "s", "maybe": 3, "ratio": 7},
    {"name": "q'\"\\", "at": _AT, "doc": 12345678901234567, "maybe": False, "ratio": -1e-300},
]


def _values(i: int, case: dict[str, Any]) -> dict[str, Any]:
    return {"id": i, "name": None, "at": None, "doc": None, "maybe": None, "ratio": None, **case}


@pytest.fixture
def engine() -> Iterator[Engine]:
    with fresh_engine(_metadata) as engine:
        yield engine


@pytest.mark.integration
def test_plain_values_are_stored_as_the_generic_conversion_stores_them(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert = Prepared(engine, _things.insert(), keys=_COLUMNS)
    params = TextParams(insert, engine.dialect, fast_json.dumps)
    assert all(params.encode(_values(0, case)) for case in _CASES)

    def write_all(offset: int) -> None:
        writes = LoopWrites(engine, [insert])

        async def main() -> list[int]:
            return [
                await writes.write(insert, _values(offset + i, case))
                for i, case in enumerate(_CASES)
            ]

        try:
            assert asyncio.run(main()) == [1] * len(_CASES)
        finally:
            writes.close()

    write_all(0)  # as text made directly
    monkeypatch.setattr(TextParams, "encode", lambda _self, _values: None)
    write_all(100)  # the generic way
    with engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(select(_things)).all()}
    assert len(rows) == 2 * len(_CASES)
    for i in range(len(_CASES)):
        direct, generic = rows[i], rows[100 + i]
        assert direct._asdict() | {"id": 0} == generic._asdict() | {"id": 0}
    assert rows[0].at == _AT and rows[0].doc == {"b": [1, 2.5, "x"], "a": None}
    assert rows[1].doc is None and rows[1].maybe is None  # JSON null and SQL NULL alike


# an engine that never connects: the statements compiled for PostgreSQL
_OFFLINE = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect=False)


class _Label(str):
    pass


class _Colour(enum.Enum):
    RED = "red"


@pytest.mark.parametrize(
    "unusual",
    [
        {"name": "n\x00l"},  # libpq would cut the text at the NUL
        {"name": _Label("sub")},
        {"name": 5},
        {"at": datetime(2026, 12, 1)},  # naive: the generic way refuses it
        {"at": _AT.astimezone(timezone(timedelta(hours=2)))},
        {"doc": {1, 2}},
        {"doc": _Colour.RED},
        {"ratio": float("inf")},
        {"ratio": float("nan")},
        {"ratio": True},
        {"id": True},
        {"name": "\ud800"},  # a lone surrogate: no UTF-8 for it
        {"doc": {"a": {1}}},  # not JSON, deep down
        {"id": 10**5000},  # past the digits an int may print
    ],
)
def test_values_the_plain_rules_do_not_cover_take_the_generic_way(unusual: dict[str, Any]) -> None:
    insert = Prepared(_OFFLINE, _things.insert(), keys=_COLUMNS)
    params = TextParams(insert, _OFFLINE.dialect, fast_json.dumps)
    assert params.encode(_values(1, {})) is not None
    assert params.encode(_values(1, unusual)) is None


def test_the_texts_of_plain_values() -> None:
    insert = Prepared(_OFFLINE, _things.insert(), keys=_COLUMNS)
    params = TextParams(insert, _OFFLINE.dialect, fast_json.dumps)
    values = _values(7, {"name": "é", "at": _AT, "doc": None, "maybe": None, "ratio": 0.25})
    assert params.encode(values) == [
        b"7",
        "é".encode(),
        b"2026-12-01T00:39:05.123456+00:00",
        b"null",  # a JSON column's None is JSON's null
        None,  # ... unless the column stores None as SQL NULL
        b"0.25",
    ]
    assert params.encode({k: v for k, v in values.items() if k != "ratio"}) is None


def test_a_column_of_a_converting_type_leaves_the_statement_to_the_generic_way() -> None:
    """An ``Enum`` column (a ``String`` whose bind processor validates) is not plain text."""
    table = Table(
        "colours", MetaData(), Column("id", Integer), Column("colour", Enum("red", "blue"))
    )
    insert = Prepared(_OFFLINE, table.insert(), keys=["id", "colour"])
    assert (
        TextParams(insert, _OFFLINE.dialect, fast_json.dumps).encode({"id": 1, "colour": "red"})
        is None
    )


@pytest.mark.integration
def test_a_value_refused_here_is_refused_as_the_generic_way_refuses_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert = Prepared(engine, _things.insert(), keys=_COLUMNS)

    def refusal() -> type[BaseException]:
        writes = LoopWrites(engine, [insert])

        async def main() -> BaseException:
            try:
                await writes.write(insert, _values(1, {"name": "\ud800"}))
            except Exception as error:  # the refusal under test
                return error
            raise AssertionError("a lone surrogate was stored")

        try:
            return type(asyncio.run(main()))
        finally:
            writes.close()

    direct = refusal()
    monkeypatch.setattr(TextParams, "encode", lambda _self, _values: None)
    assert direct is refusal() is Unavailable
