"""Dev session leases in the ``dev_sessions`` table, shared by every replica.

``live`` is read on every dev event, so each process keeps the leases it read, per workflow,
until the sessions of that workflow change. The database stays the truth; the copy is
dropped by what changes it:

- on SQLite (one process) by this process's own ``put`` and ``remove``: every
  ``SqlDevSessions`` on one engine shares one copy;
- on PostgreSQL by a NOTIFY on ``floww_dev_sessions`` that every replica's ``put`` and
  ``remove`` sends with the workflow's id (and by all of it when the listening connection was
  lost and notifications may have been missed). Without ``notifications`` nothing is kept.

A renewal drops the copy too (and NOTIFYs): a renewal may revive a lease another reader had
just found lapsed. A copied lease that seems to have lapsed is read again before it is
dropped. And whatever a process may have missed (a notification sent while its listening
connection was down; see ``notify.py``, which drops every copy once its LISTEN is back), no
copy is used for more than ``KEEP_S`` after it was read.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, delete, select, update

from floww.adapters.sql.notify import PgNotifications, notify
from floww.adapters.sql.replica_schema import dev_sessions
from floww.adapters.sql.transactions import Transactions
from floww.domain.errors import NotFound
from floww.domain.wiredict import spec_as_dict, spec_from_dict
from floww.ports.dev_sessions import DevSessionLease, DevSessions

__all__ = ["DEV_SESSIONS_CHANNEL", "SqlDevSessions"]

DEV_SESSIONS_CHANNEL = "floww_dev_sessions"
_MAX_WORKFLOWS = 1024
KEEP_S = 2.0
"""How long a copy is used at most: the bound on what a missed notification can cost."""


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


class _Copies:
    """The leases read per workflow (at most ``_MAX_WORKFLOWS``). ``generation`` moves on with
    every change, so a read that a change overtook is not kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # per workflow: the leases and when (monotonic) the copy stops being used
        self._leases: dict[str, tuple[tuple[DevSessionLease, ...], float]] = {}
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, workflow_id: str) -> tuple[DevSessionLease, ...] | None:
        kept = self._leases.get(workflow_id)
        if kept is None or time.monotonic() >= kept[1]:
            return None
        return kept[0]

    def keep(self, workflow_id: str, leases: Sequence[DevSessionLease], generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            if len(self._leases) >= _MAX_WORKFLOWS:
                self._leases.clear()
            self._leases[workflow_id] = (tuple(leases), time.monotonic() + KEEP_S)

    def drop(self, workflow_id: str | None) -> None:
        """Forget one workflow's leases; all of them for ``None``."""
        with self._lock:
            self._generation += 1
            if workflow_id is None:
                self._leases.clear()
            else:
                self._leases.pop(workflow_id, None)


# SQLite is one process: the copies of one engine are shared by every SqlDevSessions on it, so
# a change made through one is seen by all.
_SQLITE_COPIES: weakref.WeakKeyDictionary[Engine, _Copies] = weakref.WeakKeyDictionary()
_COPIES_GUARD = threading.Lock()


def _sqlite_copies(engine: Engine) -> _Copies:
    with _COPIES_GUARD:
        copies = _SQLITE_COPIES.get(engine)
        if copies is None:
            copies = _SQLITE_COPIES[engine] = _Copies()
        return copies


class SqlDevSessions(DevSessions):
    """A session of a deleted workflow lapses like any other that is no longer renewed."""

    def __init__(self, engine: Engine, notifications: PgNotifications | None = None) -> None:
        self._tx = Transactions(engine)
        self._notifies = notifications is not None and self._tx.dialect == "postgresql"
        self._copies: _Copies | None = None
        if self._tx.dialect == "sqlite":
            self._copies = _sqlite_copies(engine)
        elif notifications is not None:
            self._copies = _Copies()
            notifications.listen(DEV_SESSIONS_CHANNEL, self._copies.drop)

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
            self._changed(conn, lease.workflow_id)
        self._drop(lease.workflow_id)
        return _lease(row)

    def renew(self, workflow_id: str, session_id: str, expires_at: datetime) -> None:
        with self._tx.write() as conn:
            done = conn.execute(
                update(dev_sessions)
                .where(dev_sessions.c.workflow_id == workflow_id)
                .where(dev_sessions.c.session_id == session_id)
                .values(expires_at=expires_at)
            )
            if done.rowcount:
                self._changed(conn, workflow_id)
        self._drop(workflow_id)
        if done.rowcount == 0:
            raise NotFound("dev session", session_id)

    def remove(self, workflow_id: str, session_id: str) -> None:
        with self._tx.write() as conn:
            conn.execute(
                delete(dev_sessions)
                .where(dev_sessions.c.workflow_id == workflow_id)
                .where(dev_sessions.c.session_id == session_id)
            )
            self._changed(conn, workflow_id)
        self._drop(workflow_id)

    def live(self, workflow_id: str, now: datetime) -> list[DevSessionLease]:
        copies = self._copies
        if copies is not None:
            kept = copies.get(workflow_id)
            if kept is not None and all(lease.expires_at > now for lease in kept):
                return list(kept)
            generation = copies.generation
        # A read; lapsed leases are deleted, in a write, only when the workflow has some.
        with self._tx.read() as conn:
            rows = conn.execute(_LIVE, {"workflow_id": workflow_id}).all()
        if any(row.expires_at <= now for row in rows):
            with self._tx.write() as conn:
                conn.execute(delete(dev_sessions).where(dev_sessions.c.expires_at <= now))
        leases = [_lease(row) for row in rows if row.expires_at > now]
        if copies is not None:
            copies.keep(workflow_id, leases, generation)
        return leases

    def _changed(self, conn: Any, workflow_id: str) -> None:
        """Tell the other replicas, once ``conn``'s transaction commits."""
        if self._notifies:
            notify(conn, DEV_SESSIONS_CHANNEL, workflow_id)

    def _drop(self, workflow_id: str) -> None:
        if self._copies is not None:
            self._copies.drop(workflow_id)
