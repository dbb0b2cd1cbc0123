"""Replies through the database, so a dev session's answer meets its waiting webhook on any
replica.

``open`` inserts a row, ``deliver`` fills its answer once (and NOTIFYs ``floww_replies`` on
PostgreSQL), ``wait`` takes the answered row (deleting it as it reads it) or, when time runs
out, deletes it unanswered. Without notifications (SQLite, or a test) ``wait`` polls every
``poll_s`` seconds; with them, a notification wakes the waiter at once and the poll is only a
safety net for missed ones. An id is heard of from ``open`` on, so an answer given before
``wait`` starts wakes it too.

Each of these is one statement; on PostgreSQL it runs on its own, without ``BEGIN`` and
``COMMIT`` around it (a statement is atomic by itself), and ``deliver`` NOTIFYs in the same
statement as it answers: one round trip each instead of three or four.

Rows of a replica that died while waiting are deleted by the next ``open`` once an hour has
passed since they were opened; each process looks for them at most once a minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, literal, select, update
from sqlalchemy.engine import Connection

from floww.adapters.sql.notify import PgNotifications
from floww.adapters.sql.replica_schema import dev_replies
from floww.adapters.sql.transactions import Transactions
from floww.domain.errors import Conflict, NotFound
from floww.domain.model import InvocationResult
from floww.ports.replies import Replies
from floww.sdk.wire import result_from_wire, result_to_wire

__all__ = ["REPLIES_CHANNEL", "SqlReplies"]

REPLIES_CHANNEL = "floww_replies"
_STALE_AFTER_S = 3600
_STALE_CHECK_EVERY_S = 60.0

# Built once: each dev event goes through three or four of these.
_ID = dev_replies.c.reply_id == bindparam("rid")
_READ = select(dev_replies.c.answer).where(_ID)
_ANSWER = (
    update(dev_replies)
    .where(_ID)
    .where(dev_replies.c.answer.is_(None))
    .values(answer=bindparam("given", type_=dev_replies.c.answer.type))
    .returning(dev_replies.c.reply_id)
)
_ANSWERED = _ANSWER.cte("answered")
# PostgreSQL: answer and NOTIFY in one statement; a row back when it answered.
_ANSWER_AND_NOTIFY = select(func.pg_notify(literal(REPLIES_CHANNEL), _ANSWERED.c.reply_id))
_TAKE = (
    delete(dev_replies)
    .where(_ID)
    .where(dev_replies.c.answer.is_not(None))
    .returning(dev_replies.c.answer)
)
_RELEASE = delete(dev_replies).where(_ID)
_FORGET_STALE = delete(dev_replies).where(dev_replies.c.opened_at < bindparam("before"))


class SqlReplies(Replies):
    """Same contract as ``InMemoryReplies``; the ids live in the ``dev_replies`` table."""

    def __init__(
        self,
        engine: Engine,
        notifications: PgNotifications | None = None,
        *,
        poll_s: float = 0.1,
    ) -> None:
        self._tx = Transactions(engine)
        # One statement at a time: on PostgreSQL outside a transaction, on SQLite in a write.
        self._one: Callable[[], AbstractContextManager[Connection]] = (
            self._tx.single if self._tx.dialect == "postgresql" else self._tx.write
        )
        self._open = (
            self._tx.upsert(dev_replies)
            .values(reply_id=bindparam("rid"), answer=None, opened_at=bindparam("at"))
            .on_conflict_do_nothing(index_elements=["reply_id"])
            .returning(dev_replies.c.reply_id)
        )
        self._notifies = notifications is not None
        self._poll_s = poll_s if notifications is None else max(poll_s, 1.0)
        self._condition = threading.Condition()
        self._waiting: set[str] = set()
        self._answered: set[str] = set()
        self._stale_check_at = 0.0
        if notifications is not None:
            notifications.listen(REPLIES_CHANNEL, self._heard)

    def open(self, reply_id: str) -> None:
        now = _now()
        if self._stale_check_due():
            with self._one() as conn:
                conn.execute(_FORGET_STALE, {"before": now - timedelta(seconds=_STALE_AFTER_S)})
        with self._one() as conn:
            if conn.execute(self._open, {"rid": reply_id, "at": now}).first() is None:
                raise Conflict(f"reply {reply_id} is already open", reply_id=reply_id)
        with self._condition:
            self._waiting.add(reply_id)

    def deliver(self, reply_id: str, reply: InvocationResult) -> None:
        answer = _ANSWER_AND_NOTIFY if self._notifies else _ANSWER
        with self._one() as conn:
            done = conn.execute(answer, {"rid": reply_id, "given": result_to_wire(reply)})
            answered = done.first() is not None
        if not answered:
            with self._tx.read() as conn:
                if conn.execute(_READ, {"rid": reply_id}).first():
                    raise Conflict(f"reply {reply_id} was answered already", reply_id=reply_id)
            raise NotFound("reply", reply_id)
        self._heard(reply_id)

    def wait(self, reply_id: str, timeout: float) -> InvocationResult | None:
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._condition:
            opened_here = reply_id in self._waiting
            self._waiting.add(reply_id)
        taken, first = False, True
        try:
            while True:
                with self._condition:
                    heard = reply_id in self._answered
                    self._answered.discard(reply_id)
                remaining = deadline - time.monotonic()
                # Opened here and not heard of yet: nobody answered, so the first look waits.
                if heard or not first or not opened_here or remaining <= 0:
                    answer = self._take(reply_id)
                    if answer is not None:
                        taken = True
                        return result_from_wire(answer)
                    if not opened_here and self._read(reply_id) is None:
                        raise NotFound("reply", reply_id)
                    opened_here = True  # it was open: no need to ask again
                first = False
                if remaining <= 0:
                    return None
                with self._condition:
                    if reply_id not in self._answered:
                        self._condition.wait(min(remaining, self._poll_s))
        finally:
            with self._condition:
                self._waiting.discard(reply_id)
                self._answered.discard(reply_id)
            if not taken:
                with self._one() as conn:
                    conn.execute(_RELEASE, {"rid": reply_id})

    def _take(self, reply_id: str) -> Any:
        """The answer, its row deleted at once; ``None`` while unanswered (or not open)."""
        with self._one() as conn:
            return conn.execute(_TAKE, {"rid": reply_id}).scalar()

    def _read(self, reply_id: str) -> Any:
        with self._tx.single() as conn:
            return conn.execute(_READ, {"rid": reply_id}).first()

    def _stale_check_due(self) -> bool:
        now = time.monotonic()
        if now < self._stale_check_at:
            return False
        self._stale_check_at = now + _STALE_CHECK_EVERY_S
        return True

    def _heard(self, reply_id: str | None) -> None:
        with self._condition:
            if reply_id is not None and reply_id in self._waiting:
                self._answered.add(reply_id)
            self._condition.notify_all()


def _now() -> datetime:
    return datetime.now(UTC)
