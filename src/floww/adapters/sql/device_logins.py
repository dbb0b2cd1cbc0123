"""Device logins in progress in the ``device_logins`` table: a login started on one replica is
approved and polled on any other, and survives a restart.

The device code is the bearer secret of a login, so only its SHA-256 digest is stored; the
short user code is stored as typed (it is useless without an approving, signed-in user). A
device read back carries an empty ``device_code``. Every method is one transaction; ``take``
and ``decide`` are conditional updates, so two replicas never both hand out one login's
tokens or both decide it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from floww.adapters.sql.replica_schema import device_logins
from floww.adapters.sql.transactions import Transactions
from floww.domain.device_flow import DeviceLoginStore, PendingDevice
from floww.domain.errors import Conflict
from floww.domain.model import Principal

__all__ = ["SqlDeviceLogins"]


def _digest(device_code: str) -> str:
    return hashlib.sha256(device_code.encode("utf-8")).hexdigest()


def _device(row: Any) -> PendingDevice:
    user = (
        Principal(id=row.user_id, kind="user", email=row.user_email)
        if row.user_id is not None
        else None
    )
    return PendingDevice(
        device_code="",
        user_code=row.user_code,
        client_id=row.client_id,
        expires_at=row.expires_at,
        interval=row.interval,
        last_poll=row.last_poll,
        user=user,
        denied=row.denied,
    )


class SqlDeviceLogins(DeviceLoginStore):
    def __init__(self, engine: Engine) -> None:
        self._tx = Transactions(engine)

    def forget_expired(self, before: datetime) -> None:
        with self._tx.write() as conn:
            conn.execute(delete(device_logins).where(device_logins.c.expires_at < before))

    def add(self, device: PendingDevice) -> bool:
        try:
            with self._tx.write() as conn:
                conn.execute(
                    insert(device_logins).values(
                        device_digest=_digest(device.device_code),
                        user_code=device.user_code,
                        client_id=device.client_id[:255],
                        expires_at=device.expires_at,
                        interval=device.interval,
                        last_poll=device.last_poll,
                        user_id=device.user.id if device.user is not None else None,
                        user_email=device.user.email if device.user is not None else None,
                        denied=device.denied,
                    )
                )
        except Conflict:
            return False
        return True

    def count(self) -> int:
        with self._tx.read() as conn:
            return int(conn.execute(select(func.count()).select_from(device_logins)).scalar_one())

    def find(self, device_code: str) -> PendingDevice | None:
        with self._tx.read() as conn:
            row = conn.execute(
                select(device_logins).where(device_logins.c.device_digest == _digest(device_code))
            ).first()
        return _device(row) if row is not None else None

    def find_user_code(self, user_code: str) -> PendingDevice | None:
        with self._tx.read() as conn:
            row = conn.execute(
                select(device_logins).where(device_logins.c.user_code == user_code)
            ).first()
        return _device(row) if row is not None else None

    def record_poll(self, device_code: str, at: datetime, interval: int) -> None:
        with self._tx.write() as conn:
            conn.execute(
                update(device_logins)
                .where(device_logins.c.device_digest == _digest(device_code))
                .values(last_poll=at, interval=interval)
            )

    def decide(self, user_code: str, user: Principal | None) -> bool:
        values: dict[str, Any] = (
            {"denied": True} if user is None else {"user_id": user.id, "user_email": user.email}
        )
        with self._tx.write() as conn:
            done = conn.execute(
                update(device_logins)
                .where(device_logins.c.user_code == user_code)
                .where(device_logins.c.user_id.is_(None))
                .where(device_logins.c.denied.is_(False))
                .values(**values)
            )
        return bool(done.rowcount)

    def take(self, device_code: str) -> bool:
        with self._tx.write() as conn:
            done = conn.execute(
                delete(device_logins).where(device_logins.c.device_digest == _digest(device_code))
            )
        return bool(done.rowcount)

    def all(self) -> list[PendingDevice]:
        with self._tx.read() as conn:
            rows = conn.execute(select(device_logins).order_by(device_logins.c.expires_at)).all()
        return [_device(row) for row in rows]
