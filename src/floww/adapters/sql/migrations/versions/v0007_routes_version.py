"""A version of each workflow's routes (``workflows.routes_version``): raised in the same
transaction as every change of its triggers, webhooks or active deployment, so that a server
process holding a compiled routing table knows with one indexed read whether it is current.

Revision ID: 0007_routes_version
Revises: 0004_deployment_creator
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_routes_version"
down_revision: str | None = "0006_execution_retries"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "workflows",
        sa.Column("routes_version", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("routes_version")
