"""Execution leases: the server process running an execution (``owner``) and when its lease
lapses unless renewed (``lease_expires_at``), indexed for the recovery sweep.

Executions stored before this revision have no lease: the first sweep treats them as lapsed.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("owner", sa.String(length=64), nullable=True))
    op.add_column(
        "executions", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        op.f("ix_executions_status_lease_expires_at"),
        "executions",
        ["status", "lease_expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_executions_status_lease_expires_at"), table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("owner")
