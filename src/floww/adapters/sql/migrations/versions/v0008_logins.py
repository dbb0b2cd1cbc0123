"""Logins (refresh-token families): the digest of each login's current refresh generation,
so refresh tokens rotate, a reused one revokes its login, and logout is server-side.

Revision ID: 0008_logins
Revises: 0007_routes_version
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_TIMESTAMP = sa.DateTime(timezone=True)  # what ``UtcDateTime`` is stored as

revision = "0008_logins"
down_revision: str | None = "0007_routes_version"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "logins",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("current_digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", _TIMESTAMP, nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logins")),
    )
    op.create_index(op.f("ix_logins_user_id"), "logins", ["user_id"], unique=False)
    op.create_index(op.f("ix_logins_expires_at"), "logins", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_logins_expires_at"), table_name="logins")
    op.drop_index(op.f("ix_logins_user_id"), table_name="logins")
    op.drop_table("logins")
