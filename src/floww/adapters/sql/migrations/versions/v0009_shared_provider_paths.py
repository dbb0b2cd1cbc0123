"""Shared provider webhook paths: every trigger of one provider alias in a workflow is served
on ``/<type>/<alias>``, so several webhooks of one workflow, method, shape and source may now
exist. The unique constraint becomes a plain index (ingress still probes it); the rule that
only triggers of one provider alias share a path is ``floww.domain.triggers.check_trigger_set``,
applied to every replacement set.

Revision ID: 0009_shared_provider_paths
Revises: 0008_logins
"""

from __future__ import annotations

from alembic import op

revision = "0009_shared_provider_paths"
down_revision: str | None = "0008_logins"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = ["workflow_id", "method_key", "shape", "source"]


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_constraint(
            op.f("uq_webhooks_workflow_id_method_key_shape_source"), type_="unique"
        )
        batch.create_index(
            op.f("ix_webhooks_workflow_id_method_key_shape_source"), _COLUMNS, unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_index(op.f("ix_webhooks_workflow_id_method_key_shape_source"))
        batch.create_unique_constraint(
            op.f("uq_webhooks_workflow_id_method_key_shape_source"), _COLUMNS
        )
