"""Replies through the database, so a dev session's answer meets its waiting webhook on any
replica.

``open`` inserts a row, ``deliver`` fills its answer once (and NOTIFYs ``floww_replies`` on
PostgreSQL), ``wait`` reads the row until it is answered or time runs out, then deletes it.
Without notifications (SQLite, or a test) ``wait`` polls every ``poll_s`` seconds; with them,
a notification wakes the waiter at once and the poll is only a safety net for missed ones.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from floww.adapters.sql.notify import PgNotifications, notify
from floww.adapters.sql.replica_schema import dev_replies
from floww.adapters.sql.transactions import Transactions
from floww.domain.errors import Conflict, NotFound
from floww.domain.model import InvocationResult
from floww.ports.replies import Replies
from floww.sdk.wire import result_from_wire, result_to_wire

__all__ = ["REPLIES_CHANNEL", "SqlReplies"]

REPLIES_CHANNEL = "floww_replies"
_STALE_AFTER_S = 3600


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
        self._notifies = notifications is not None
        self._poll_s = poll_s if notifications is None else max(poll_s, 1.0)
        self._condition = threading.Condition()
        self._waiting: set[str] = set()
        self._answered: set[str] = set()
        if notifications is not None:
            notifications.listen(REPLIES_CHANNEL, self._heard)

    def open(self, reply_id: str) -> None:
        with self._tx.write() as conn:
            if conn.execute(select(dev_replies.c.reply_id).where(_is(reply_id))).first():
                raise Conflict(f"reply {reply_id} is already open", reply_id=reply_id)
            # Rows of a replica that died while waiting: nobody can wait on them any more.
            stale = _now() - timedelta(seconds=_STALE_AFTER_S)
            conn.execute(delete(dev_replies).where(dev_replies.c.opened_at < stale))
            conn.execute(
                insert(dev_replies).values(reply_id=reply_id, answer=None, opened_at=_now())
            )

    def deliver(self, reply_id: str, reply: InvocationResult) -> None:
        with self._tx.write() as conn:
            done = conn.execute(
                update(dev_replies)
                .where(_is(reply_id))
                .where(dev_replies.c.answer.is_(None))
                .values(answer=result_to_wire(reply))
            )
            if done.rowcount == 0:
                if conn.execute(select(dev_replies.c.reply_id).where(_is(reply_id))).first():
                    raise Conflict(f"reply {reply_id} was answered already", reply_id=reply_id)
                raise NotFound("reply", reply_id)
            if self._notifies:
                notify(conn, REPLIES_CHANNEL, reply_id)
        self._heard(reply_id)

    def wait(self, reply_id: str, timeout: float) -> InvocationResult | None:
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._condition:
            self._waiting.add(reply_id)
        try:
            while True:
                found = self._read(reply_id)
                if found is None:
                    raise NotFound("reply", reply_id)
                if found.answer is not None:
                    return result_from_wire(found.answer)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                with self._condition:
                    if reply_id not in self._answered:
                        self._condition.wait(min(remaining, self._poll_s))
                    self._answered.discard(reply_id)
        finally:
            with self._condition:
                self._waiting.discard(reply_id)
                self._answered.discard(reply_id)
            with self._tx.write() as conn:
                conn.execute(delete(dev_replies).where(_is(reply_id)))

    def _read(self, reply_id: str) -> Any:
        with self._tx.read() as conn:
            return conn.execute(select(dev_replies.c.answer).where(_is(reply_id))).first()

    def _heard(self, reply_id: str | None) -> None:
        with self._condition:
            if reply_id is not None and reply_id in self._waiting:
                self._answered.add(reply_id)
            self._condition.notify_all()


def _is(reply_id: str) -> Any:
    return dev_replies.c.reply_id == reply_id


def _now() -> datetime:
    return datetime.now(UTC)
