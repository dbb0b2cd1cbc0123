"""The initial schema: namespaces, members, workflows, providers, triggers, webhooks,
runtimes, deployments, executions, cron ticks and KV items.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
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
        "cron_ticks",
        sa.Column("trigger_id", sa.String(length=64), nullable=False),
        sa.Column("scheduled_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("trigger_id", "scheduled_at", name=op.f("pk_cron_ticks")),
    )
    op.create_table(
        "namespaces",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_namespaces")),
        sa.UniqueConstraint("name", name=op.f("uq_namespaces_name")),
    )
    op.create_table(
        "kv_items",
        sa.Column("namespace_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("value", _JSON, nullable=True),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_kv_items_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", "key", name=op.f("pk_kv_items")),
    )
    op.create_table(
        "members",
        sa.Column("namespace_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_members_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", "user_id", name=op.f("pk_members")),
    )
    op.create_index(op.f("ix_members_user_id"), "members", ["user_id"], unique=False)
    op.create_table(
        "providers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("namespace_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=False),
        sa.Column("sealed_config", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_providers_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint(
            "namespace_id", "type", "alias", name=op.f("uq_providers_namespace_id_type_alias")
        ),
    )
    op.create_table(
        "runtimes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("namespace_id", sa.String(length=64), nullable=False),
        sa.Column("spec_hash", sa.String(length=255), nullable=False),
        sa.Column("image_ref", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_runtimes_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runtimes")),
        sa.UniqueConstraint(
            "namespace_id", "spec_hash", name=op.f("uq_runtimes_namespace_id_spec_hash")
        ),
    )
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("namespace_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_workflows_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("namespace_id", "name", name=op.f("uq_workflows_namespace_id_name")),
    )
    op.create_table(
        "deployments",
        sa.Column("seq", _SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=64), nullable=False),
        sa.Column("runtime_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=True),
        sa.Column("code_entrypoint", sa.String(length=1024), nullable=False),
        sa.Column("code_files", _JSON, nullable=False),
        sa.Column("trigger_specs", _JSON, nullable=False),
        sa.Column("provider_mapping", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_deployments_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_deployments")),
        sa.UniqueConstraint("id", name=op.f("uq_deployments_id")),
    )
    op.create_index(
        op.f("ix_deployments_workflow_id_created_at"),
        "deployments",
        ["workflow_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "uq_deployments_one_active",
        "deployments",
        ["workflow_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "executions",
        sa.Column("seq", _SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=64), nullable=False),
        sa.Column("trigger_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", _TIMESTAMP, nullable=False),
        sa.Column("event", _JSON, nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=True),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("started_at", _TIMESTAMP, nullable=True),
        sa.Column("finished_at", _TIMESTAMP, nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("result", _JSON, nullable=True),
        sa.Column("error", _JSON_OR_NULL, nullable=True),
        sa.Column("logs", _JSON, nullable=False),
        sa.Column("triggered_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_executions_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_executions")),
        sa.UniqueConstraint("id", name=op.f("uq_executions_id")),
        sa.UniqueConstraint(
            "workflow_id", "dedupe_key", name=op.f("uq_executions_workflow_id_dedupe_key")
        ),
    )
    op.create_index(
        op.f("ix_executions_workflow_id_received_at"),
        "executions",
        ["workflow_id", "received_at"],
        unique=False,
    )
    op.create_table(
        "triggers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=True),
        sa.Column("provider_type", sa.String(length=255), nullable=False),
        sa.Column("provider_alias", sa.String(length=255), nullable=False),
        sa.Column("trigger_type", sa.String(length=255), nullable=False),
        sa.Column("input", _JSON, nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_triggers_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
    )
    op.create_index(
        op.f("ix_triggers_trigger_type_source"),
        "triggers",
        ["trigger_type", "source"],
        unique=False,
    )
    op.create_index(
        op.f("ix_triggers_workflow_id_source"), "triggers", ["workflow_id", "source"], unique=False
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=64), nullable=False),
        sa.Column("trigger_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("method_key", sa.String(length=16), nullable=False),
        sa.Column("shape", sa.String(length=2048), nullable=False),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        sa.Column("is_static", sa.Boolean(), nullable=False),
        sa.Column("owner_type", sa.String(length=255), nullable=False),
        sa.Column("owner_alias", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["triggers.id"],
            name=op.f("fk_webhooks_trigger_id_triggers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_webhooks_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint(
            "workflow_id",
            "method_key",
            "shape",
            "source",
            name=op.f("uq_webhooks_workflow_id_method_key_shape_source"),
        ),
    )
    op.create_index(op.f("ix_webhooks_trigger_id"), "webhooks", ["trigger_id"], unique=False)
    op.create_index(
        op.f("ix_webhooks_workflow_id_method_key_segment_count"),
        "webhooks",
        ["workflow_id", "method_key", "segment_count"],
        unique=False,
    )


def downgrade() -> None:
    for table in (
        "webhooks",
        "triggers",
        "executions",
        "deployments",
        "workflows",
        "runtimes",
        "providers",
        "members",
        "kv_items",
        "namespaces",
        "cron_ticks",
    ):
        op.drop_table(table)
