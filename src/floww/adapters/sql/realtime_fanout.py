"""Realtime across replicas: publications go through PostgreSQL to every replica's own hub.

``PgFanOutRealtime`` wraps the realtime service of this process (the hub the dev sessions'
websockets are attached to). ``publish`` writes the message to the ``realtime_messages``
outbox and NOTIFYs its row id on ``floww_realtime`` in one statement (one round trip), then
publishes to its own hub at once (so its subscribers see their channel in publish order);
every other replica hears the id, reads the row and publishes it to its own hub. NOTIFY alone
would not do: its payload is capped at 8000 bytes and a dev event carries a webhook body.
A message is sealed with the secret box before it is stored (a dev event carries an execution
token and the caller's request), so the outbox holds nothing readable at rest; replicas share
the box's key with the rest of the home. Rows older than ``keep_s`` seconds are deleted as new
ones are written and as others are heard, by each replica at most every ``keep_s / 10``
seconds (a delete on every publication cost a statement per dev event). Subscriptions and
subscriber counts are the local hub's.

Delivery is at most once per replica: a replica that loses its listening connection misses
what was published until it is back (the dev client's deadline then answers the caller).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, String, bindparam, delete, func, insert, literal, select

from floww.adapters.sql.notify import PgNotifications
from floww.adapters.sql.replica_schema import realtime_messages
from floww.adapters.sql.transactions import Transactions
from floww.domain.errors import InvalidInput
from floww.ports.realtime import Realtime, Subscription
from floww.ports.support import SecretBox

__all__ = ["REALTIME_CHANNEL", "PgFanOutRealtime"]

REALTIME_CHANNEL = "floww_realtime"

# The row written and its id NOTIFYed as ``<origin>:<id>``, in one statement.
_STORED = (
    insert(realtime_messages)
    .values(
        channel=bindparam("to"),
        message=bindparam("sealed", type_=realtime_messages.c.message.type),
        created_at=bindparam("at"),
    )
    .returning(realtime_messages.c.id)
    .cte("stored")
)
_STORE_AND_NOTIFY = select(
    func.pg_notify(
        literal(REALTIME_CHANNEL), func.concat(bindparam("origin", type_=String), _STORED.c.id)
    )
)
_READ = select(realtime_messages.c.channel, realtime_messages.c.message).where(
    realtime_messages.c.id == bindparam("row_id")
)


class PgFanOutRealtime(Realtime):
    def __init__(
        self,
        local: Realtime,
        engine: Engine,
        notifications: PgNotifications,
        box: SecretBox,
        *,
        keep_s: float = 60.0,
    ) -> None:
        self.local = local
        self._box = box
        self._origin = secrets.token_hex(8)
        self._tx = Transactions(engine)
        self._keep = timedelta(seconds=keep_s)
        self._forget_every_s = keep_s / 10
        self._forget_at = 0.0
        notifications.listen(REALTIME_CHANNEL, self._heard)

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        """``InvalidInput`` for a message JSON cannot carry; ``Unavailable`` when the database
        cannot be reached."""
        if not isinstance(message, dict):
            raise InvalidInput("realtime message must be a JSON object")
        try:
            encoded = json.dumps(message, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"realtime message is not JSON: {exc}") from exc
        sealed = {"sealed": base64.b64encode(self._box.seal(encoded)).decode("ascii")}
        now = datetime.now(UTC)
        self._forget_old(now)
        with self._tx.single() as conn:
            conn.execute(
                _STORE_AND_NOTIFY,
                {"to": channel, "sealed": sealed, "at": now, "origin": f"{self._origin}:"},
            )
        self.local.publish(channel, message)

    def subscribe(self, channel: str) -> Subscription:
        return self.local.subscribe(channel)

    def subscriber_count(self, channel: str) -> int:
        return self.local.subscriber_count(channel)

    def _heard(self, payload: str | None) -> None:
        origin, _, row_id = (payload or "").partition(":")
        if origin == self._origin or not row_id.isdigit():
            return
        with self._tx.single() as conn:
            row = conn.execute(_READ, {"row_id": int(row_id)}).first()
        if row is not None:
            opened = self._box.open(base64.b64decode(row.message["sealed"]))
            self.local.publish(row.channel, json.loads(opened))
        self._forget_old(datetime.now(UTC))  # after the delivery: it never delays nor drops it

    def _forget_old(self, now: datetime) -> None:
        due = time.monotonic()
        if due < self._forget_at:
            return
        self._forget_at = due + self._forget_every_s
        with self._tx.single() as conn:
            conn.execute(
                delete(realtime_messages).where(realtime_messages.c.created_at < now - self._keep)
            )
