"""Logins (refresh-token families, ``floww.ports.logins``) in the ``logins`` table: a login
started on one replica is refreshed, revoked or logged out on any other, and survives a
restart. Only the digest of a login's current refresh generation is stored.

``rotate`` is two conditional updates in one transaction: the first moves a live login from
the presented generation to its successor; when it matches nothing, the second revokes the
live login (a spent generation came back). Two replicas redeeming one generation at once thus
get one ``ROTATED`` and one ``REUSED``: the row lock orders them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Engine, Index, String, Table, delete, insert, select, update

from floww.adapters.sql.schema import metadata
from floww.adapters.sql.transactions import Transactions
from floww.adapters.sql.types import UtcDateTime
from floww.ports.logins import Login, LoginStore, Rotation

__all__ = ["SqlLogins", "logins"]

logins = Table(
    "logins",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("current_digest", String(64), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("revoked", Boolean(), nullable=False),
    Index(None, "user_id"),
    Index(None, "expires_at"),
)


def _login(row: Any) -> Login:
    return Login(
        id=row.id,
        user_id=row.user_id,
        current=row.current_digest,
        expires_at=row.expires_at,
        revoked=row.revoked,
    )


class SqlLogins(LoginStore):
    def __init__(self, engine: Engine) -> None:
        self._tx = Transactions(engine)

    def start(self, login: Login) -> None:
        with self._tx.write() as conn:
            conn.execute(
                insert(logins).values(
                    id=login.id,
                    user_id=login.user_id,
                    current_digest=login.current,
                    expires_at=login.expires_at,
                    revoked=login.revoked,
                )
            )

    def find(self, login_id: str) -> Login | None:
        with self._tx.read() as conn:
            row = conn.execute(select(logins).where(logins.c.id == login_id)).first()
        return None if row is None else _login(row)

    def rotate(
        self, login_id: str, user_id: str, presented: str, successor: str, now: datetime
    ) -> Rotation:
        live = (
            (logins.c.id == login_id)
            & (logins.c.user_id == user_id)
            & logins.c.revoked.is_(False)
            & (logins.c.expires_at > now)
        )
        with self._tx.write() as conn:
            moved = conn.execute(
                update(logins)
                .where(live & (logins.c.current_digest == presented))
                .values(current_digest=successor)
            )
            if moved.rowcount:
                return Rotation.ROTATED
            revoked = conn.execute(update(logins).where(live).values(revoked=True))
        return Rotation.REUSED if revoked.rowcount else Rotation.ENDED

    def revoke(self, login_id: str) -> None:
        with self._tx.write() as conn:
            conn.execute(update(logins).where(logins.c.id == login_id).values(revoked=True))

    def revoke_user(self, user_id: str) -> None:
        with self._tx.write() as conn:
            conn.execute(update(logins).where(logins.c.user_id == user_id).values(revoked=True))

    def forget_expired(self, before: datetime) -> None:
        with self._tx.write() as conn:
            conn.execute(delete(logins).where(logins.c.expires_at < before))
