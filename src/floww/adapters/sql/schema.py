"""The tables of the SQL WorkflowRepo (SQLAlchemy Core).

Constraints carry the rules of the port: unique names and keys, parents that must exist, one
active deployment per workflow, one claim per cron tick. Indexes follow the hot paths: webhook
ingress, cron scheduling and execution listing. The migrations in ``migrations/versions``
create exactly this schema (a test compares the two).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from floww.adapters.sql.types import Json, JsonOrNull, UtcDateTime

__all__ = [
    "cron_ticks",
    "deployments",
    "executions",
    "kv_items",
    "members",
    "metadata",
    "namespaces",
    "providers",
    "runtimes",
    "triggers",
    "webhooks",
    "workflows",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only aliases the rowid for exactly ``INTEGER PRIMARY KEY``.
Sequence = BigInteger().with_variant(Integer(), "sqlite")

_ID = 64
_NAME = 255

namespaces = Table(
    "namespaces",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column("name", String(_NAME), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

members = Table(
    "members",
    metadata,
    Column(
        "namespace_id",
        String(_ID),
        ForeignKey("namespaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", String(_NAME), primary_key=True),
    Column("role", String(32), nullable=False),
    Index(None, "user_id"),
)

workflows = Table(
    "workflows",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column(
        "namespace_id",
        String(_ID),
        ForeignKey("namespaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(_NAME), nullable=False),
    Column("description", Text(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # Raised with every change of the workflow's routes (migration 0007): docs/performance.md.
    Column("routes_version", Integer(), nullable=False, server_default="0"),
    UniqueConstraint("namespace_id", "name"),
)

providers = Table(
    "providers",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column(
        "namespace_id",
        String(_ID),
        ForeignKey("namespaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("type", String(_NAME), nullable=False),
    Column("alias", String(_NAME), nullable=False),
    # the config as JSON, sealed by the SecretBox: never stored in plaintext
    Column("sealed_config", LargeBinary(), nullable=False),
    UniqueConstraint("namespace_id", "type", "alias"),
)

triggers = Table(
    "triggers",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column(
        "workflow_id",
        String(_ID),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("source", String(16), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("deployment_id", String(_ID), nullable=True),
    Column("provider_type", String(_NAME), nullable=False),
    Column("provider_alias", String(_NAME), nullable=False),
    Column("trigger_type", String(_NAME), nullable=False),
    Column("input", Json, nullable=False),
    Column("state", Json, nullable=False),
    Index(None, "workflow_id", "source"),
    Index(None, "trigger_type", "source"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column(
        "workflow_id",
        String(_ID),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "trigger_id",
        String(_ID),
        ForeignKey("triggers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("source", String(16), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("method", String(16), nullable=False),
    Column("path", String(2048), nullable=False),
    # upper-cased method and the path with every parameter as ``{}``: for a static path the
    # shape is the normalized path itself, so ingress finds it with one probe of the index
    # (not unique: triggers of one provider alias share its path)
    Column("method_key", String(16), nullable=False),
    Column("shape", String(2048), nullable=False),
    Column("segment_count", Integer(), nullable=False),
    Column("is_static", Boolean(), nullable=False),
    Column("owner_type", String(_NAME), nullable=False),
    Column("owner_alias", String(_NAME), nullable=False),
    Index(None, "workflow_id", "method_key", "shape", "source"),
    Index(None, "workflow_id", "method_key", "segment_count"),
    Index(None, "trigger_id"),
)

runtimes = Table(
    "runtimes",
    metadata,
    Column("id", String(_ID), primary_key=True),
    Column(
        "namespace_id",
        String(_ID),
        ForeignKey("namespaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("spec_hash", String(_NAME), nullable=False),
    Column("image_ref", String(2048), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=True),
    UniqueConstraint("namespace_id", "spec_hash"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=True),
    Column("id", String(_ID), nullable=False, unique=True),
    Column(
        "workflow_id",
        String(_ID),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("runtime_id", String(_ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=True),
    Column("code_entrypoint", String(1024), nullable=False),
    Column("code_files", Json, nullable=False),
    Column("trigger_specs", Json, nullable=False),
    Column("provider_mapping", Json, nullable=False),
    # Who created it (migration 0004); None for deployments stored before.
    Column("created_by", String(_NAME), nullable=True),
    Index(None, "workflow_id", "created_at"),
    Index(
        "uq_deployments_one_active",
        "workflow_id",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)

executions = Table(
    "executions",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=True),
    Column("id", String(_ID), nullable=False, unique=True),
    Column(
        "workflow_id",
        String(_ID),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("trigger_id", String(_ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("event", Json, nullable=False),
    Column("deployment_id", String(_ID), nullable=True),
    Column("dedupe_key", String(_NAME), nullable=True),
    Column("started_at", UtcDateTime(), nullable=True),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("duration_ms", Float(), nullable=True),
    Column("result", Json, nullable=True),
    Column("error", JsonOrNull, nullable=True),
    Column("logs", Json, nullable=False),
    Column("triggered_by", String(_NAME), nullable=True),
    # The lease of the server process running it (migration 0002).
    Column("owner", String(_ID), nullable=True),
    Column("lease_expires_at", UtcDateTime(), nullable=True),
    # Retries (migration 0006).
    Column("attempt", Integer(), nullable=False, server_default="1"),
    Column("retry_of", String(_ID), nullable=True),
    Column("retry_delay_s", Float(), nullable=True),
    UniqueConstraint("workflow_id", "dedupe_key"),
    Index(None, "workflow_id", "received_at"),
    Index(None, "status", "lease_expires_at"),
)

cron_ticks = Table(
    "cron_ticks",
    metadata,
    Column("trigger_id", String(_ID), primary_key=True),
    Column("scheduled_at", UtcDateTime(), primary_key=True),
)

kv_items = Table(
    "kv_items",
    metadata,
    Column(
        "namespace_id",
        String(_ID),
        ForeignKey("namespaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(1024), primary_key=True),
    Column("value", Json, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)
