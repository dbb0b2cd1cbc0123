"""Retries: each execution knows which attempt it is (``attempt``, 1 for a first run), the id
of the first run of its event (``retry_of``) and the backoff waited before it
(``retry_delay_s``). Executions stored before this revision are first attempts.

Revision ID: 0006_execution_retries
Revises: 0004_deployment_creator
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_execution_retries"
down_revision: str | None = "0004_deployment_creator"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "executions", sa.Column("attempt", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column("executions", sa.Column("retry_of", sa.String(length=64), nullable=True))
    op.add_column("executions", sa.Column("retry_delay_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("retry_delay_s")
        batch.drop_column("retry_of")
        batch.drop_column("attempt")
