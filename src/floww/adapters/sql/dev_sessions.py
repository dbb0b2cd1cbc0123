"""Dev session leases in the ``dev_sessions`` table, shared by every replica."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, delete, select, update

from floww.adapters.sql.replica_schema import dev_sessions
from floww.adapters.sql.transactions import Transactions
from floww.domain.errors import NotFound
from floww.domain.wiredict import spec_as_dict, spec_from_dict
from floww.ports.dev_sessions import DevSessionLease, DevSessions

__all__ = ["SqlDevSessions"]


def _lease(row: Any) -> DevSessionLease:
    return DevSessionLease(
        workflow_id=row.workflow_id,
        session_id=row.session_id,
        specs=tuple(spec_from_dict(s) for s in row.specs),
        connected_at=row.connected_at,
        expires_at=row.expires_at,
    )


# Built once: on every dev event, making the statement cost a quarter of the read.
_LIVE = (
    select(dev_sessions)
    .where(dev_sessions.c.workflow_id == bindparam("workflow_id"))
    .order_by(dev_sessions.c.connected_at.desc(), dev_sessions.c.session_id.desc())
)


class SqlDevSessions(DevSessions):
    """A session of a deleted workflow lapses like any other that is no longer renewed."""

    def __init__(self, engine: Engine) -> None:
        self._tx = Transactions(engine)

    def put(self, lease: DevSessionLease) -> DevSessionLease:
        key = (dev_sessions.c.workflow_id == lease.workflow_id) & (
            dev_sessions.c.session_id == lease.session_id
        )
        specs = [spec_as_dict(s) for s in lease.specs]
        with self._tx.write() as conn:
            insert = self._tx.upsert(dev_sessions).values(
                workflow_id=lease.workflow_id,
                session_id=lease.session_id,
                specs=specs,
                connected_at=lease.connected_at,
                expires_at=lease.expires_at,
            )
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["workflow_id", "session_id"],
                    set_={"specs": specs, "expires_at": lease.expires_at},
                )
            )
            row = conn.execute(select(dev_sessions).where(key)).one()
        return _lease(row)

    def renew(self, workflow_id: str, session_id: str, expires_at: datetime) -> None:
        with self._tx.write() as conn:
            done = conn.execute(
                update(dev_sessions)
                .where(dev_sessions.c.workflow_id == workflow_id)
                .where(dev_sessions.c.session_id == session_id)
                .values(expires_at=expires_at)
            )
        if done.rowcount == 0:
            raise NotFound("dev session", session_id)

    def remove(self, workflow_id: str, session_id: str) -> None:
        with self._tx.write() as conn:
            conn.execute(
                delete(dev_sessions)
                .where(dev_sessions.c.workflow_id == workflow_id)
                .where(dev_sessions.c.session_id == session_id)
            )

    def live(self, workflow_id: str, now: datetime) -> list[DevSessionLease]:
        # A read (this is on every dev event); lapsed leases are deleted, in a write, only
        # when the workflow has some.
        with self._tx.read() as conn:
            rows = conn.execute(_LIVE, {"workflow_id": workflow_id}).all()
        if any(row.expires_at <= now for row in rows):
            with self._tx.write() as conn:
                conn.execute(delete(dev_sessions).where(dev_sessions.c.expires_at <= now))
        return [_lease(row) for row in rows if row.expires_at > now]
