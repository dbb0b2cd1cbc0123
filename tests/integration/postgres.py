"""Finding or reaching a PostgreSQL server for tests, and throwaway databases on it.

The server is ``FLOWW_TEST_POSTGRES_URL`` when set, else the first of a few local defaults
that answers (the ``postgres`` or ``root`` user over TCP on 127.0.0.1:5432, then the unix
socket). Every test session gets its own database ``floww_test_<pid>_<random>``, migrated
once and dropped at exit; each test starts from empty tables (``reset``). Without a server
the tests skip, saying why, except when ``CI`` is ``"true"``, where they fail.
"""

from __future__ import annotations

import atexit
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.engine import URL, make_url

from floww.adapters.sql import make_engine, migrate
from floww.adapters.sql.schema import metadata
from floww.domain.errors import FlowwError

__all__ = [
    "PostgresDatabase",
    "admin_url",
    "fresh_database",
    "session_database",
    "skip_or_fail",
]

ENV_URL = "FLOWW_TEST_POSTGRES_URL"
LOCAL_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg://root@127.0.0.1:5432/postgres",
    "postgresql+psycopg://postgres@/postgres?host=/var/run/postgresql",
    "postgresql+psycopg://root@/postgres?host=/var/run/postgresql",
)
_PREFIX = "floww_test_"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test with ``reason``; fail instead when running in CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)")
    pytest.skip(reason)


class _Server:
    """The admin URL of the server, found once per process (or why none was found)."""

    lock = threading.Lock()
    url: URL | None = None
    problem: str | None = None
    searched = False


def admin_url() -> URL:
    """A URL on the server's maintenance database with rights to create databases."""
    with _Server.lock:
        if not _Server.searched:
            _Server.searched = True
            _Server.url, _Server.problem = _search()
    if _Server.url is None:
        skip_or_fail(_Server.problem or "no PostgreSQL server")
    return _Server.url


def _search() -> tuple[URL | None, str | None]:
    configured = os.environ.get(ENV_URL)
    candidates = [configured] if configured else list(LOCAL_CANDIDATES)
    failures = []
    for candidate in candidates:
        try:
            engine = make_engine(candidate)
        except FlowwError as error:
            failures.append(str(error))
            continue
        engine.dispose()
        return engine.url, None
    where = (
        f"{ENV_URL}={configured!r}"
        if configured
        else f"set {ENV_URL}; tried "
        + ", ".join(make_url(c).render_as_string(hide_password=True) for c in candidates)
    )
    return None, f"no PostgreSQL server reachable ({where}): " + " | ".join(failures)


def _admin_engine(url: URL) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _create(url: URL) -> URL:
    name = f"{_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    admin = _admin_engine(url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name)


def _drop(url: URL) -> None:
    admin = _admin_engine(admin_url())
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def fresh_database() -> Iterator[URL]:
    """An empty database (no schema), dropped afterwards."""
    url = _create(admin_url())
    try:
        yield url
    finally:
        _drop(url)


@contextmanager
def fresh_engine(tables: MetaData) -> Iterator[Engine]:
    """An engine on a ``fresh_database`` holding only ``tables``; disposed, then dropped."""
    with fresh_database() as url:
        engine = make_engine(url.render_as_string(hide_password=False))
        tables.create_all(engine)
        try:
            yield engine
        finally:
            engine.dispose()


class PostgresDatabase:
    """The migrated database of this test session and an engine on it."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.engine = make_engine(url.render_as_string(hide_password=False))
        migrate(self.engine)
        self._tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)

    def reset(self) -> None:
        """Empty every table of the repository (the schema and its version stay)."""
        with self.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {self._tables} RESTART IDENTITY CASCADE"))

    def close(self) -> None:
        self.engine.dispose()
        _drop(self.url)


_session: list[PostgresDatabase] = []


def session_database() -> PostgresDatabase:
    """This session's database, created and migrated on first use and dropped at exit."""
    server = admin_url()
    with _Server.lock:
        if not _session:
            database = PostgresDatabase(_create(server))
            _session.append(database)
            atexit.register(database.close)
        return _session[0]
