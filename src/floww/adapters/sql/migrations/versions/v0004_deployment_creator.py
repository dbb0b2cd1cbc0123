"""Who created a deployment (``deployments.created_by``): a user's e-mail or ``kind:id`` of
another caller. Deployments stored before this revision have none.

Revision ID: 0004_deployment_creator
Revises: 0003_replicas
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_deployment_creator"
down_revision: str | None = "0003_replicas"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("deployments", sa.Column("created_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("created_by")
