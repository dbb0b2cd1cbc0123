"""Transactions with the vendor's exceptions translated to floww's error tree.

Every repository call runs in exactly one ``read()`` or ``write()`` transaction, so each call
is atomic and a reader sees a committed state only.

    IntegrityError                         -> Conflict
    DataError (value too long, bad value)  -> InvalidInput
    OperationalError, lost connection, ... -> Unavailable (saying what to check)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Table, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from floww.adapters.sql.engine import WRITE, unavailable
from floww.domain.errors import Conflict, InvalidInput

__all__ = ["Transactions"]


class Transactions:
    """Opens transactions on ``engine`` and builds dialect-specific upserts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._insert: Callable[[Table], Any] = (
            postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: on SQLite it takes the write lock at once."""
        with self._translated(), self.engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    def upsert(self, table: Table) -> Any:
        """``INSERT`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (both
        dialects spell them alike)."""
        return self._insert(table)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except exc.IntegrityError as error:
            raise Conflict(f"the change conflicts with stored data: {_first_line(error)}") from (
                error
            )
        except exc.DataError as error:
            raise InvalidInput(f"a value does not fit the database: {_first_line(error)}") from (
                error
            )
        except (exc.DBAPIError, exc.TimeoutError, exc.DisconnectionError) as error:
            raise unavailable(self.engine, error) from error


def _first_line(error: exc.DBAPIError) -> str:
    lines = str(error.orig).strip().splitlines()
    return lines[0] if lines else type(error.orig).__name__
