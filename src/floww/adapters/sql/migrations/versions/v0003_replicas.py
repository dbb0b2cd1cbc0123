"""Shared state for server replicas: dev sessions with leases, dev replies, the realtime
outbox and device logins.

Revision ID: 0003_replicas
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_replicas"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_JSON_OR_NULL = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
_SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dev_sessions",
        sa.Column("workflow_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("specs", _JSON, nullable=False),
        sa.Column("connected_at", _TIMESTAMP, nullable=False),
        sa.Column("expires_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "session_id", name=op.f("pk_dev_sessions")),
    )
    op.create_table(
        "dev_replies",
        sa.Column("reply_id", sa.String(length=64), nullable=False),
        sa.Column("answer", _JSON_OR_NULL, nullable=True),
        sa.Column("opened_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("reply_id", name=op.f("pk_dev_replies")),
    )
    op.create_table(
        "realtime_messages",
        sa.Column("id", _SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("message", _JSON, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_messages")),
    )
    op.create_index(
        op.f("ix_realtime_messages_created_at"), "realtime_messages", ["created_at"], unique=False
    )
    op.create_table(
        "device_logins",
        sa.Column("device_digest", sa.String(length=64), nullable=False),
        sa.Column("user_code", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("expires_at", _TIMESTAMP, nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_poll", _TIMESTAMP, nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("user_email", sa.String(length=255), nullable=True),
        sa.Column("denied", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("device_digest", name=op.f("pk_device_logins")),
        sa.UniqueConstraint("user_code", name=op.f("uq_device_logins_user_code")),
    )
    op.create_index(
        op.f("ix_device_logins_expires_at"), "device_logins", ["expires_at"], unique=False
    )


def downgrade() -> None:
    for table in ("device_logins", "realtime_messages", "dev_replies", "dev_sessions"):
        op.drop_table(table)
