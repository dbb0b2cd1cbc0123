"""Fixtures for suites that need real systems. PostgreSQL: see ``tests.integration.postgres``
(found or skipped by itself; in CI a missing server fails)."""

from __future__ import annotations

from collections.abc import Iterator

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
