"""Fixtures for suites that need real systems. PostgreSQL: see ``tests.integration.postgres``
(found or skipped by itself; in CI a missing server fails)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from tests.integration.postgres import PostgresDatabase, fresh_database, session_database


@pytest.fixture
def postgres() -> PostgresDatabase:
    """The session's migrated PostgreSQL database, emptied for this test."""
    database = session_database()
    database.reset()
    return database


@pytest.fixture
def empty_postgres_url() -> Iterator[URL]:
    """A URL of a brand-new database without any schema, dropped after the test."""
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A server's database URL, once for each database: SQLite in the test's home, or a fresh
    PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'floww.db'}"
        return
    with fresh_database() as url:
        yield url.render_as_string(hide_password=False)
