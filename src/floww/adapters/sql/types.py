"""Column types shared by the schema and its migrations.

``UtcDateTime`` keeps every timestamp an aware UTC datetime on both backends (SQLite has no
time zone type, so it stores naive UTC text of fixed width, which also sorts by time);
``Json`` is JSON everywhere and JSONB on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB

from floww.domain.errors import InvalidInput

__all__ = ["Json", "JsonOrNull", "UtcDateTime"]


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; a naive datetime is ``InvalidInput``."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise InvalidInput("timestamps must be timezone-aware")
        moment = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        """``process_bind_param`` and the column type's own processor in one call, as the
        decorator's default chains them, without its layers (seven timestamps per webhook
        call go through here). On SQLite the text is written directly: ``isoformat`` gives
        the fixed-width ``YYYY-MM-DD HH:MM:SS.ffffff`` SQLAlchemy's ``DATETIME`` writes."""
        if dialect.name == "sqlite":
            return _sqlite_text
        convert, impl = self.process_bind_param, self.impl_instance.bind_processor(dialect)
        if impl is None:
            return lambda value: convert(value, dialect)
        return lambda value: impl(convert(value, dialect))

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def _sqlite_text(value: datetime | None) -> str | None:
    """An aware datetime as SQLite's column text: naive UTC, microseconds always written."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput("timestamps must be timezone-aware")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


Json = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document; Python ``None`` is stored as JSON ``null``."""

JsonOrNull = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
"""A JSON document where Python ``None`` is SQL ``NULL`` (an absent value)."""
