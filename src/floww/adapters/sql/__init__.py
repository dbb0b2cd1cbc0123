"""The SQL WorkflowRepo: SQLite (the embedded default) and PostgreSQL, with Alembic
migrations.

    engine = make_engine("sqlite:///~/.floww/floww.db")
    migrate(engine)
    repo = SqlWorkflowRepo(engine, secret_box)
"""

from floww.adapters.sql import logins as logins  # its table joins the schema
from floww.adapters.sql import replica_schema as replica_schema  # its tables join the schema
from floww.adapters.sql.engine import make_engine
from floww.adapters.sql.migration import current_revision, head_revision, migrate
from floww.adapters.sql.repo import SqlWorkflowRepo

__all__ = ["SqlWorkflowRepo", "current_revision", "head_revision", "make_engine", "migrate"]
