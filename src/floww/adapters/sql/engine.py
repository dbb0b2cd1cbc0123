"""Engines for the two supported databases, configured for a multi-threaded server.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, and
write transactions start with ``BEGIN IMMEDIATE`` so that two writers queue on the busy
timeout instead of failing on a lock upgrade. PostgreSQL goes through psycopg 3 with a pool
sized for the server; a connection idle for a few seconds is pinged when checked out, so one
dropped by a database restart is replaced instead of failing a request, while connections in
steady use pay no ping.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, Connection, make_url

from floww.adapters.sql import fast_json
from floww.domain.errors import FlowwError, InvalidInput, Unavailable

__all__ = ["WRITE", "make_engine", "unavailable"]

WRITE = "floww_write"
"""Execution option that marks a connection's transactions as writes (``BEGIN IMMEDIATE``)."""

_SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
_PG_POOL_SIZE = 32
_PG_PING_AFTER_IDLE_S = 5.0
_LAST_USED = "floww_last_used"


def make_engine(url: str, *, connect: bool = True) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql[+psycopg]://...``.

    ``InvalidInput`` for a malformed or unsupported URL. With ``connect`` (the default) one
    connection is opened at once, so a database that cannot be reached fails here with
    ``Unavailable`` and a sentence saying what to check, not at the first request.
    """
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    else:
        engine = _postgresql_engine(parsed)
    if connect:
        try:
            with engine.connect():
                pass
        except exc.SQLAlchemyError as error:
            engine.dispose()
            raise unavailable(engine, error) from error
    return engine


def unavailable(engine: Engine, error: BaseException) -> FlowwError:
    """The ``Unavailable`` error for a failed connection or statement, naming what to check.
    The URL is shown without its password."""
    where = engine.url.render_as_string(hide_password=True)
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    detail = reason[0] if reason else type(error).__name__
    if engine.dialect.name == "sqlite":
        hint = (
            "check that the directory exists and is writable, that the file is a SQLite "
            "database migrated by floww, and that no other process holds a long write lock"
        )
    else:
        hint = (
            "check that the PostgreSQL server is running and reachable, and that the URL's "
            "host, port, user, password and database name are right (and the schema migrated)"
        )
    return Unavailable(f"database {where} is unavailable ({detail}); {hint}", url=where)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError, TypeError) as error:
        raise InvalidInput(f"not a database URL: {error}") from error
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise InvalidInput(f"unsupported SQLite driver {driver!r}; use sqlite:///path")
        if not parsed.database or parsed.database == ":memory:":
            raise InvalidInput(
                "an in-memory SQLite database cannot be shared by a server's threads; "
                "give a file path such as sqlite:///floww.db"
            )
        database = str(Path(parsed.database).expanduser())
        return parsed.set(drivername="sqlite+pysqlite", database=database)
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise InvalidInput(f"unsupported PostgreSQL driver {driver!r}; use postgresql+psycopg")
        return parsed.set(drivername="postgresql+psycopg")
    raise InvalidInput(
        f"unsupported database {parsed.drivername!r}: use sqlite:///path or postgresql://..."
    )


def _sqlite_engine(url: URL) -> Engine:
    assert url.database is not None
    try:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise Unavailable(
            f"cannot create the directory for SQLite database {url.database}: {error}"
        ) from error
    # Connections are kept (not opened per request): opening one runs the pragmas below, and
    # the server's thread pools easily outnumber SQLAlchemy's default pool of 5 + 10.
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=64,
        max_overflow=64,
        json_serializer=fast_json.dumps,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # take transaction control from the driver so BEGIN is ours (see _begin)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgresql_engine(url: URL) -> Engine:
    # Sized for the server's concurrency (webhook threads, dispatcher lanes, API threads), so
    # that a burst does not open and close overflow connections.
    engine = create_engine(
        url,
        pool_size=_PG_POOL_SIZE,
        max_overflow=_PG_POOL_SIZE,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
        # positional parameters: psycopg binds a list without parsing named placeholders
        paramstyle="format",
        json_serializer=fast_json.dumps,
    )

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # A connection idle for a while may have been dropped (a database restart, an idle
        # timeout): it is pinged, and replaced when dead (``DisconnectionError`` makes the pool
        # retry with a new one). One in use moments ago is not: the hot path pays no ping.
        now = time.monotonic()
        last = record.info.get(_LAST_USED)
        record.info[_LAST_USED] = now
        if last is None or now - last < _PG_PING_AFTER_IDLE_S:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()  # the ping leaves no transaction open behind it
        except Exception as error:
            raise exc.DisconnectionError(str(error)) from error

    @event.listens_for(engine, "checkin")
    def _used(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    return engine
