"""Bringing a database's schema to the newest revision, on every start.

``migrate`` builds the Alembic configuration in code (no ``alembic.ini`` at run time) and runs
the revisions shipped in ``floww/adapters/sql/migrations``. It is idempotent, and concurrent
callers take turns: PostgreSQL through an advisory lock, SQLite through its write lock.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from floww.adapters.sql.transactions import Transactions

__all__ = ["current_revision", "head_revision", "migrate"]

_LOCATION = "floww.adapters.sql:migrations"
_ADVISORY_LOCK = 0x666C6F7777  # "floww"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", _LOCATION)
    return config


def migrate(engine: Engine) -> None:
    """Apply every revision the database lacks; a no-op when it is current.
    ``Unavailable`` when the database cannot be reached."""
    config = _config()
    with Transactions(engine).write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def head_revision() -> str:
    """The newest revision shipped with this version of floww."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; ``None`` for an empty database."""
    with Transactions(engine).read() as conn:
        return MigrationContext.configure(conn).get_current_revision()
