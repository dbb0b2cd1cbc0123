"""Transactions with the vendor's exceptions translated to floww's error tree.

Every repository call runs in exactly one ``read()`` or ``write()`` transaction, or is one
statement by itself (``single()``), so each call is atomic and a reader sees a committed state
only.

    IntegrityError                         -> Conflict
    DataError (value too long, bad value)  -> InvalidInput
    OperationalError, lost connection, ... -> Unavailable (saying what to check)
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, Table, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from floww.adapters.sql.engine import WRITE, unavailable
from floww.domain.errors import Conflict, InvalidInput

__all__ = ["Transactions", "conflict", "invalid"]

# SQLite has one writer at a time. Writers of this process queue on a lock (a fast hand-over)
# instead of in SQLite's busy handler, which sleeps in growing steps and made tail latency
# balloon under concurrent webhooks. Other processes still queue on the busy timeout.
_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _write_lock(engine: Engine) -> threading.Lock:
    with _LOCKS_GUARD:
        lock = _SQLITE_WRITE_LOCKS.get(engine)
        if lock is None:
            lock = _SQLITE_WRITE_LOCKS[engine] = threading.Lock()
        return lock


class Transactions:
    """Opens transactions on ``engine`` and builds dialect-specific upserts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._insert: Callable[[Table], Any] = (
            postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        )
        self._writers: threading.Lock | None = (
            _write_lock(engine) if self.dialect == "sqlite" else None
        )

    @property
    def write_lock(self) -> threading.Lock | None:
        """The lock this process's SQLite writers queue on (``None`` on PostgreSQL)."""
        return self._writers

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def single(self) -> Iterator[Connection]:
        """For one statement (atomic by itself): on PostgreSQL without a transaction around it
        (autocommit), which saves the ``BEGIN`` and ``COMMIT`` round trips; on SQLite a
        ``read()``, without the process's write lock, so a write there must use ``write()``
        instead (as ``SqlReplies`` does)."""
        if self.dialect != "postgresql":
            with self.read() as conn:
                yield conn
            return
        with self._translated(), self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: on SQLite it takes the write lock at once."""
        queue = self._writers if self._writers is not None else nullcontext()
        with queue, self._translated(), self.engine.connect() as conn:
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
            raise conflict(error) from error
        except exc.DataError as error:
            raise invalid(error) from error
        except (exc.DBAPIError, exc.TimeoutError, exc.DisconnectionError) as error:
            raise unavailable(self.engine, error) from error


def conflict(error: BaseException) -> Conflict:
    """The domain error of a statement the database refused on a constraint."""
    return Conflict(f"the change conflicts with stored data: {_first_line(error)}")


def invalid(error: BaseException) -> InvalidInput:
    """The domain error of a value the database refused (too long, out of range)."""
    return InvalidInput(f"a value does not fit the database: {_first_line(error)}")


def _first_line(error: BaseException) -> str:
    """The driver's own first line (SQLAlchemy's errors wrap it as ``orig``)."""
    orig = getattr(error, "orig", None) or error
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__
