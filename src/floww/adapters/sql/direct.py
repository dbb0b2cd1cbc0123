"""The webhook path's statements, run on DBAPI connections directly.

Every webhook request reads a workflow's ``routes_version`` and writes its execution twice
(created, finished). Through SQLAlchemy Core each of these costs more in the library than in
the database: a pool checkout with its events, ``BEGIN`` issued through the dialect, the
statement's execution context and result object, commit and check-in. Here the statements are
still built and compiled by SQLAlchemy, once per dialect, with each parameter converted by the
bind processor of its column's type (the same SQL and the same stored values as the Core
path), and run on DBAPI connections kept for the purpose:

- connections are taken from the engine (so they are configured by its ``connect`` listeners:
  WAL and the pragmas on SQLite) and detached from its pool, which keeps its capacity for the
  rest of the server; at most ``KEEP`` idle ones are kept, each used by one thread at a time;
- on SQLite, writes take the same in-process write lock as every other writer
  (``Transactions``); one write runs alone in autocommit (the statement is its own
  transaction: on PostgreSQL one round trip, not three; on SQLite no ``BEGIN``/``COMMIT``
  calls), several run between ``BEGIN`` (``BEGIN IMMEDIATE`` on SQLite) and ``COMMIT``;
- with ``durable=False`` (PostgreSQL only, ``FLOWW_PG_SYNCHRONOUS_COMMIT=off``) these writes
  do not wait for the WAL flush (``synchronous_commit = off``): see docs/performance.md for
  what that risks;
- reads run in autocommit (one statement is atomic by itself): no ``BEGIN``/``COMMIT``;
- on SQLite the writers' connections never checkpoint the log themselves (a commit that
  crossed the automatic checkpoint's 1,000 pages would copy them into the database file and
  sync it, in the writer's time: on an event loop, a pause of every call): a thread of this
  object checkpoints passively every ``CHECKPOINT_EVERY_S`` after writes;
- DBAPI errors are translated as ``Transactions`` translates SQLAlchemy's: integrity ->
  ``Conflict``, data -> ``InvalidInput``, anything else (the pool's own time-out and
  connection failures included) -> ``Unavailable``; then the connection is discarded, and so
  are the idle ones, which the same cause (a database restart) most likely dropped too. A
  connection whose transaction could not be ended is never kept.

The contract suites of ``WorkflowRepo`` run these paths on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, event, exc
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from floww.adapters.sql.engine import unavailable
from floww.adapters.sql.transactions import conflict, invalid
from floww.domain.errors import Conflict, InvalidInput

__all__ = ["DirectConnections", "Prepared"]

log = logging.getLogger("floww.sql")

KEEP = 32
"""Idle DBAPI connections kept for reuse; more are opened under a burst and closed after."""

PING_AFTER_IDLE_S = 5.0
"""A PostgreSQL connection idle longer than this is pinged before use."""

CHECKPOINT_EVERY_S = 0.25
"""How often the SQLite log is checkpointed into the database file, after writes."""

_PG_IDLE = 0  # psycopg's pq.TransactionStatus.IDLE: no transaction open


class Prepared:
    """``statement`` compiled once for ``engine``'s dialect. ``params(values)`` gives the
    DBAPI parameters: each value converted by its column type's bind processor, positional
    or named as the driver wants them. ``keys`` names the columns of an ``INSERT``. ``names``
    and ``types`` are the parameters' names and column types, in order; ``fixed`` names those
    with a value of the statement's own."""

    def __init__(
        self, engine: Engine, statement: ClauseElement, keys: Sequence[str] | None = None
    ) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self._positional = bool(compiled.positional)
        names = list(compiled.positiontup or []) if self._positional else list(compiled.binds)
        self._names = names
        processors: dict[str, Callable[[Any], Any] | None] = {}
        for name in names:
            bind = compiled.binds[name]
            processors[name] = bind.type.dialect_impl(dialect).bind_processor(dialect)
        self._processors = processors
        # constant parameters of the statement itself (none of ours has any, but be exact)
        self._fixed = {name: compiled.binds[name].value for name in names}
        self._plan = [(name, processors[name]) for name in names]
        self.names = tuple(names)
        self.types = tuple(compiled.binds[name].type for name in names)
        self.fixed = {name for name in names if not compiled.binds[name].required}

    def params(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        converted = []
        for name, processor in self._plan:
            value = values[name] if name in values else self._fixed[name]
            converted.append(value if processor is None else processor(value))
        if self._positional:
            return converted
        return dict(zip(self._names, converted, strict=True))


class DirectConnections:
    """DBAPI connections of ``engine`` for the statements above; ``write_lock`` is the
    in-process lock SQLite writers share (``None`` on PostgreSQL)."""

    def __init__(
        self, engine: Engine, write_lock: threading.Lock | None, *, durable: bool = True
    ) -> None:
        self._engine = engine
        self._durable = durable
        self._sqlite = engine.dialect.name == "sqlite"
        self._write_lock = write_lock
        dbapi = engine.dialect.dbapi
        assert dbapi is not None
        self._dbapi = dbapi
        self._lock = threading.Lock()
        self._idle_writers: list[tuple[Any, Any]] = []  # (connection, its cursor)
        self._idle_readers: list[tuple[Any, Any]] = []
        self._used: dict[int, float] = {}  # id(connection) -> when it was last given back
        self._closed = False
        self._written = False  # since the last checkpoint (SQLite)
        self._stopping = threading.Event()
        self._checkpointer: threading.Thread | None = None
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    @contextlib.contextmanager
    def write(self, statements: int = 2) -> Iterator[Any]:
        """A write transaction for ``statements`` statements: yields a DBAPI cursor; commits
        when the block ends, rolls back when it raises."""
        lock = self._write_lock if self._write_lock is not None else contextlib.nullcontext()
        with lock:
            kept = self._take(self._idle_writers, writer=True)
            cursor = kept[1]
            # one statement commits itself (autocommit, on both databases): no transaction
            # around it
            explicit = statements > 1
            healthy = False
            try:
                with self._translated():
                    if explicit:
                        cursor.execute("BEGIN IMMEDIATE" if self._sqlite else "BEGIN")
                    try:
                        yield cursor
                    except BaseException:
                        if explicit:
                            with contextlib.suppress(self._dbapi.Error):
                                cursor.execute("ROLLBACK")
                        raise
                    if explicit:
                        cursor.execute("COMMIT")
                healthy = True
                if self._sqlite:
                    self._wrote()
            except (Conflict, InvalidInput):
                # The statement was refused; the connection is fine once out of its
                # transaction (a failed ROLLBACK would leave SQLite's write lock held).
                healthy = self._idle_now(kept[0])
                raise
            finally:
                self._give_back(self._idle_writers, kept, healthy)

    def scalar(self, prepared: Prepared, values: Mapping[str, Any]) -> Any:
        """The first column of the first row ``prepared`` reads, or ``None``."""
        kept = self._take(self._idle_readers, writer=False)
        healthy = False
        try:
            with self._translated():
                cursor = kept[1]
                cursor.execute(prepared.sql, prepared.params(values))
                row = cursor.fetchone()
            healthy = True
            return None if row is None else row[0]
        finally:
            self._give_back(self._idle_readers, kept, healthy)

    def close(self) -> None:
        """Close every idle connection; those in use are closed as they come back."""
        with self._lock:
            self._closed = True
            checkpointer = self._checkpointer
        self._stopping.set()
        if checkpointer is not None and checkpointer is not threading.current_thread():
            checkpointer.join(timeout=5.0)
        self._drop_idle()

    def _wrote(self) -> None:
        """A SQLite write committed: its WAL frames reach the database file at the next
        checkpoint, made by the checkpointer thread (started with the first write)."""
        self._written = True
        if self._checkpointer is None:
            with self._lock:
                if self._checkpointer is None and not self._closed:
                    self._checkpointer = threading.Thread(
                        target=self._checkpoints, name="floww-sqlite-checkpoint", daemon=True
                    )
                    self._checkpointer.start()

    def _checkpoints(self) -> None:
        """Every ``CHECKPOINT_EVERY_S`` after writes: a passive checkpoint, on a connection of
        its own (writers never wait for it, nor it for them)."""
        connection: Any = None
        try:
            while not self._stopping.wait(CHECKPOINT_EVERY_S):
                if not self._written:
                    continue
                self._written = False
                try:
                    if connection is None:
                        proxied = self._engine.raw_connection()
                        connection = proxied.driver_connection
                        proxied.detach()
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except Exception as error:  # the next round tries again
                    log.warning("SQLite checkpoint failed: %s", type(error).__name__)
                    with contextlib.suppress(Exception):
                        if connection is not None:
                            connection.close()
                    connection = None
        finally:
            with contextlib.suppress(Exception):
                if connection is not None:
                    connection.close()

    def _drop_idle(self) -> None:
        """Close the idle connections: after a connection failed, the others were most likely
        dropped by the same cause (a database restart), so none is tried again."""
        with self._lock:
            idle = self._idle_writers + self._idle_readers
            self._idle_writers, self._idle_readers = [], []
            self._used.clear()
        for connection, _cursor in idle:
            with contextlib.suppress(Exception):
                connection.close()

    def _idle_now(self, connection: Any) -> bool:
        """Whether ``connection`` is out of any transaction (so it may be kept)."""
        if self._sqlite:
            return not connection.in_transaction
        return bool(connection.info.transaction_status == _PG_IDLE)

    # -- internals ---------------------------------------------------------------------------

    def _take(self, idle: list[tuple[Any, Any]], *, writer: bool) -> tuple[Any, Any]:
        """An idle (connection, cursor) pair, or a new one. On PostgreSQL a connection idle
        for more than ``PING_AFTER_IDLE_S`` is pinged first and replaced when the server
        dropped it (a restart, an idle timeout), as the engine's pool does."""
        with self._lock:
            kept = idle.pop() if idle else None
        if kept is not None:
            if self._sqlite or time.monotonic() - self._used.get(id(kept[0]), 0.0) < (
                PING_AFTER_IDLE_S
            ):
                return kept
            try:
                kept[1].execute("SELECT 1")
                kept[1].fetchall()
                return kept
            except self._dbapi.Error:
                with self._lock:
                    self._used.pop(id(kept[0]), None)
                with contextlib.suppress(Exception):
                    kept[0].close()
                self._drop_idle()  # dropped while idle: so, most likely, were the others
        with self._translated():
            proxied = self._engine.raw_connection()
            connection: Any = proxied.driver_connection
            proxied.detach()  # ours from now on: the pool's slot is free again
            try:
                if self._sqlite and writer:
                    # checkpoints are the checkpointer's (``_checkpoints``): a commit
                    # never copies the log into the database file itself
                    connection.execute("PRAGMA wal_autocheckpoint=0")
                if not self._sqlite:
                    if connection.info.transaction_status != _PG_IDLE:
                        connection.rollback()  # a checkout ping may have left one open
                    connection.autocommit = True  # transactions are begun explicitly (write)
                    if writer and not self._durable:
                        connection.execute("SET synchronous_commit TO off")
                return connection, connection.cursor()
            except BaseException:
                with contextlib.suppress(Exception):
                    connection.close()
                raise

    def _give_back(self, idle: list[tuple[Any, Any]], kept: tuple[Any, Any], healthy: bool) -> None:
        if healthy:
            with self._lock:
                if not self._closed and len(idle) < KEEP:
                    self._used[id(kept[0])] = time.monotonic()
                    idle.append(kept)
                    return
        with self._lock:
            self._used.pop(id(kept[0]), None)
        with contextlib.suppress(Exception):
            kept[0].close()

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        dbapi = self._dbapi
        try:
            yield
        except dbapi.IntegrityError as error:
            raise conflict(error) from error
        except dbapi.DataError as error:
            raise invalid(error) from error
        except (dbapi.Error, exc.TimeoutError, exc.DisconnectionError) as error:
            # the pool may time out or fail to connect too: Unavailable, as in Transactions
            self._drop_idle()
            raise unavailable(self._engine, error) from error
