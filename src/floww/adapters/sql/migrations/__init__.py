"""Alembic migrations of the SQL WorkflowRepo, applied by ``floww.adapters.sql.migrate``."""
