"""Namespaces, members, workflows and providers of ``SqlWorkflowRepo``."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select

from floww.adapters.sql import codec
from floww.adapters.sql.repo_base import SqlRepoBase
from floww.adapters.sql.schema import members, namespaces, providers, workflows
from floww.domain.canonical import canonical_json
from floww.domain.errors import Conflict, NotFound
from floww.domain.model import Member, Namespace, Provider, ProviderRef, Workflow

__all__ = ["SqlTenancy"]


class SqlTenancy(SqlRepoBase):
    """Who owns what: a namespace's members, workflows and (sealed) providers."""

    # namespaces and members -------------------------------------------------------------

    def create_namespace(self, namespace: Namespace) -> None:
        with self._tx.write() as conn:
            taken = conn.execute(
                select(namespaces.c.id, namespaces.c.name).where(
                    (namespaces.c.id == namespace.id) | (namespaces.c.name == namespace.name)
                )
            ).first()
            if taken is not None:
                if taken.id == namespace.id:
                    raise Conflict(
                        f"namespace id {namespace.id} is taken", namespace_id=namespace.id
                    )
                raise Conflict(f"namespace name {namespace.name!r} is taken", name=namespace.name)
            conn.execute(
                namespaces.insert().values(
                    id=namespace.id, name=namespace.name, created_at=namespace.created_at
                )
            )

    def get_namespace(self, namespace_id: str) -> Namespace:
        with self._tx.read() as conn:
            row = conn.execute(select(namespaces).where(namespaces.c.id == namespace_id)).first()
        if row is None:
            raise NotFound("namespace", namespace_id)
        return codec.namespace_from_row(row)

    def add_member(self, member: Member) -> None:
        with self._tx.write() as conn:
            self._require_namespace(conn, member.namespace_id)
            stmt = self._tx.upsert(members).values(
                namespace_id=member.namespace_id, user_id=member.user_id, role=member.role
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["namespace_id", "user_id"], set_={"role": member.role}
                )
            )

    def get_member(self, namespace_id: str, user_id: str) -> Member | None:
        with self._tx.read() as conn:
            row = conn.execute(
                select(members).where(
                    members.c.namespace_id == namespace_id, members.c.user_id == user_id
                )
            ).first()
        return None if row is None else Member(row.namespace_id, row.user_id, row.role)

    def list_members(self, namespace_id: str) -> list[Member]:
        with self._tx.read() as conn:
            rows = conn.execute(
                select(members)
                .where(members.c.namespace_id == namespace_id)
                .order_by(members.c.user_id)
            ).all()
        return [Member(row.namespace_id, row.user_id, row.role) for row in rows]

    def remove_member(self, namespace_id: str, user_id: str) -> None:
        with self._tx.write() as conn:
            gone = conn.execute(
                members.delete().where(
                    members.c.namespace_id == namespace_id, members.c.user_id == user_id
                )
            )
            if gone.rowcount == 0:
                raise NotFound("member", user_id)

    def list_namespaces(self, user_id: str) -> list[Namespace]:
        with self._tx.read() as conn:
            rows = conn.execute(
                select(namespaces)
                .join(members, members.c.namespace_id == namespaces.c.id)
                .where(members.c.user_id == user_id)
            ).all()
        return sorted(map(codec.namespace_from_row, rows), key=lambda ns: (ns.name, ns.id))

    # workflows ----------------------------------------------------------------------------

    def create_workflow(self, workflow: Workflow) -> None:
        with self._tx.write() as conn:
            self._require_namespace(conn, workflow.namespace_id)
            if self._exists(conn, workflows.c.id == workflow.id):
                raise Conflict(f"workflow id {workflow.id} is taken", workflow_id=workflow.id)
            if self._exists(
                conn,
                (workflows.c.namespace_id == workflow.namespace_id)
                & (workflows.c.name == workflow.name),
            ):
                raise Conflict(
                    f"namespace already has a workflow named {workflow.name!r}",
                    namespace_id=workflow.namespace_id,
                    name=workflow.name,
                )
            conn.execute(
                workflows.insert().values(
                    id=workflow.id,
                    namespace_id=workflow.namespace_id,
                    name=workflow.name,
                    description=workflow.description,
                    created_at=workflow.created_at,
                )
            )

    def get_workflow(self, workflow_id: str) -> Workflow:
        with self._tx.read() as conn:
            row = conn.execute(select(workflows).where(workflows.c.id == workflow_id)).first()
        if row is None:
            raise NotFound("workflow", workflow_id)
        return codec.workflow_from_row(row)

    def find_workflow(self, namespace_id: str, name: str) -> Workflow | None:
        with self._tx.read() as conn:
            row = conn.execute(
                select(workflows).where(
                    workflows.c.namespace_id == namespace_id, workflows.c.name == name
                )
            ).first()
        return None if row is None else codec.workflow_from_row(row)

    def list_workflows(self, namespace_id: str) -> list[Workflow]:
        with self._tx.read() as conn:
            rows = conn.execute(
                select(workflows).where(workflows.c.namespace_id == namespace_id)
            ).all()
        return sorted(map(codec.workflow_from_row, rows), key=lambda wf: (wf.name, wf.id))

    # providers ----------------------------------------------------------------------------

    def put_provider(self, provider: Provider) -> Provider:
        sealed = self._box.seal(canonical_json(dict(provider.config)).encode())
        with self._tx.write() as conn:
            self._require_namespace(conn, provider.namespace_id)
            stmt = self._tx.upsert(providers).values(
                id=provider.id,
                namespace_id=provider.namespace_id,
                type=provider.type,
                alias=provider.alias,
                sealed_config=sealed,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["namespace_id", "type", "alias"],
                set_={"sealed_config": stmt.excluded.sealed_config},
            ).returning(*providers.c)
            row = conn.execute(stmt).one()
        return self._open(row)

    def find_provider(self, namespace_id: str, ref: ProviderRef) -> Provider | None:
        with self._tx.read() as conn:
            row = conn.execute(
                select(providers).where(
                    providers.c.namespace_id == namespace_id,
                    providers.c.type == ref.type,
                    providers.c.alias == ref.alias,
                )
            ).first()
        return None if row is None else self._open(row)

    def list_providers(self, namespace_id: str) -> list[Provider]:
        with self._tx.read() as conn:
            rows = conn.execute(
                select(providers).where(providers.c.namespace_id == namespace_id)
            ).all()
        return sorted(map(self._open, rows), key=lambda p: (p.type, p.alias))

    def delete_provider(self, namespace_id: str, ref: ProviderRef) -> None:
        with self._tx.write() as conn:
            result = conn.execute(
                delete(providers).where(
                    providers.c.namespace_id == namespace_id,
                    providers.c.type == ref.type,
                    providers.c.alias == ref.alias,
                )
            )
            if result.rowcount == 0:
                raise NotFound("provider", f"{namespace_id}/{ref.key}")

    def _open(self, row: Any) -> Provider:
        config = json.loads(self._box.open(bytes(row.sealed_config)))
        return Provider(row.id, row.namespace_id, row.type, row.alias, config)
