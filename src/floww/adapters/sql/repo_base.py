"""The base of ``SqlWorkflowRepo``: its transactions and secret box, and the checks its
methods make inside a transaction (a parent that must exist, a workflow row to lock)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, literal, select
from sqlalchemy.engine import Connection

from floww.adapters.sql import records, routes
from floww.adapters.sql.direct import DirectConnections, Prepared
from floww.adapters.sql.group_commit import POSTGRESQL_LEADERS, GroupCommit
from floww.adapters.sql.loop_writes import LoopWrites
from floww.adapters.sql.schema import executions, namespaces, workflows
from floww.adapters.sql.transactions import Transactions
from floww.domain.errors import NotFound
from floww.ports.loop_bridge import off_loop, on_loop, wait_on_loop
from floww.ports.support import SecretBox
from floww.ports.workflow_repo import WorkflowRepo

R = TypeVar("R")

__all__ = ["SqlRepoBase", "blocking_calls_off_loop"]

_LOOP_NATIVE = frozenset({"create_execution", "update_execution"})
"""The methods whose common path the event loop makes itself (``LoopWrites``)."""


def blocking_calls_off_loop(cls: type[R]) -> type[R]:
    """``cls`` with each method of the ``WorkflowRepo`` port, but the execution writes the
    loop makes itself, run on a thread when called from ``run_on_loop`` (PostgreSQL's use
    cases on the event loop): a read there is a round trip, or a wait for the pool, a lock,
    a connection; the event loop must never wait for one."""
    for name in dir(WorkflowRepo):
        if name.startswith("_") or name in _LOOP_NATIVE:
            continue
        method = getattr(cls, name, None)
        if callable(method):
            setattr(cls, name, _off_loop_method(method))
    return cls


def _off_loop_method(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def run(self: object, *args: Any, **kwargs: Any) -> Any:
        if on_loop():
            return off_loop(functools.partial(method, self, *args, **kwargs))
        return method(self, *args, **kwargs)

    return run


class _HotStatements:
    """The webhook path's statements, compiled once for the engine's dialect
    (``direct.py``): the execution's insert (plain, or only at a routes version) and update,
    the routing version's read."""

    def __init__(self, engine: Engine) -> None:
        self.insert_execution = Prepared(
            engine, executions.insert(), keys=[c.name for c in executions.c if c.name != "seq"]
        )
        self.insert_execution_at_version = Prepared(engine, routes.INSERT_EXECUTION_AT_VERSION)
        self.update_execution = Prepared(engine, records.UPDATE_EXECUTION)
        self.routes_version = Prepared(engine, routes.VERSION)


class SqlRepoBase:
    """Holds the ``Transactions`` of ``engine``, the DBAPI connections and statements of the
    webhook path with a ``GroupCommit`` over them for its execution writes (``direct.py``;
    ``durable=False`` lets them skip PostgreSQL's flush), and the ``secret_box`` that seals
    provider configs."""

    def __init__(self, engine: Engine, secret_box: SecretBox, *, durable: bool = True) -> None:
        self._tx = Transactions(engine)
        self._direct = DirectConnections(engine, self._tx.write_lock, durable=durable)
        self._hot = _HotStatements(engine)
        leaders = 1 if self._tx.dialect == "sqlite" else POSTGRESQL_LEADERS
        self._group = GroupCommit(self._direct.write, leaders)
        self._box = secret_box
        # on PostgreSQL, the event loop writes executions itself (loop_writes.py)
        self._loop_writes = (
            None
            if self._tx.dialect == "sqlite"
            else LoopWrites(
                engine,
                [
                    self._hot.insert_execution,
                    self._hot.insert_execution_at_version,
                    self._hot.update_execution,
                ],
                durable=durable,
            )
        )

    def _write_execution(self, prepared: Prepared, values: dict[str, Any]) -> int:
        """The row count of the execution write ``prepared`` with ``values``, committed: made
        by the event loop when called from it (PostgreSQL), grouped with other threads' writes
        otherwise."""
        if self._loop_writes is not None and on_loop():
            return wait_on_loop(self._loop_writes.write(prepared, values))
        params = prepared.params(values)
        return int(self._group.write(lambda cursor: cursor.execute(prepared.sql, params).rowcount))

    @property
    def writes_on_loop(self) -> bool:
        """Whether the execution writes of a caller on the event loop are made by the loop
        (``run_on_loop``) rather than blocking it."""
        return self._loop_writes is not None

    # checks inside a transaction ----------------------------------------------------------

    def writes_wait(self) -> bool:
        """Whether a write made now would first wait for another writer of this process
        (SQLite's one writer at a time; never on PostgreSQL): an event loop then hands its
        write to a thread instead of waiting."""
        lock = self._tx.write_lock
        return lock is not None and lock.locked()

    def _exists(self, conn: Connection, condition: Any) -> bool:
        return conn.execute(select(literal(1)).where(condition).limit(1)).first() is not None

    def _require_namespace(self, conn: Connection, namespace_id: str) -> None:
        if not self._exists(conn, namespaces.c.id == namespace_id):
            raise NotFound("namespace", namespace_id)

    def _lock_workflow(self, conn: Connection, workflow_id: str) -> None:
        """Check the workflow exists and, on PostgreSQL, lock its row until commit, so that
        concurrent replacements of its triggers or deployments take turns. The lock is
        ``FOR NO KEY UPDATE``: the foreign-key checks of its executions' inserts (``KEY
        SHARE``) do not wait for it, so a deploy holds up none of the workflow's calls."""
        row = conn.execute(
            select(workflows.c.id)
            .where(workflows.c.id == workflow_id)
            .with_for_update(key_share=True)
        ).first()
        if row is None:
            raise NotFound("workflow", workflow_id)
