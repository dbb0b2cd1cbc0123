"""The bookkeeping of RFC 8628 device authorization, shared by every ``Identity`` that serves it.

``DeviceFlow`` applies the rules to the pending devices of a ``DeviceLoginStore``; it issues
no tokens (its owner does, for the principal ``poll`` returns). The store is in memory by
default (``MemoryDeviceLogins``); a database-backed one lets a login started on one server
replica be approved and polled on another, and survive a restart:

- ``start`` makes a device code and an 8-letter user code (shown as ``BCDF-GHJK``); ``Unavailable``
  once ``max_pending`` devices are pending. Devices expired for a further lifetime are
  forgotten then (until that, their pollers hear ``expired_token``).
- ``poll`` answers the approving principal once; the device is forgotten then, and the code
  is ``NotFound`` afterwards. Otherwise it raises ``DeviceAuthorizationPending`` with
  ``expired_token``, ``slow_down`` (polled sooner than the interval, which grows by five
  seconds each time, RFC 8628 section 3.5), ``access_denied`` or ``authorization_pending``.
- ``approve`` and ``deny`` decide a pending user code once, in any case and with or without
  its dash; ``NotFound`` for an unknown or expired code, ``Conflict`` for a decided one.

Time comes from ``now`` and codes from ``new_device_code`` / ``new_user_code`` so tests can
fix them. Safe to use from several threads.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from floww.domain.errors import (
    Conflict,
    DeviceAuthorizationPending,
    InvalidInput,
    NotFound,
    Unavailable,
)
from floww.domain.model import Principal

__all__ = [
    "SLOW_DOWN_SECONDS",
    "USER_CODE_ALPHABET",
    "DeviceFlow",
    "DeviceLoginStore",
    "MemoryDeviceLogins",
    "PendingDevice",
    "normalize_user_code",
    "random_device_code",
    "random_user_code",
]

# RFC 8628 6.1: no vowels, so a code spells no word; no digits, so none is mistaken for a letter.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
SLOW_DOWN_SECONDS = 5  # RFC 8628 3.5
_USER_CODE_ATTEMPTS = 100


def random_device_code() -> str:
    return secrets.token_urlsafe(32)


def random_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalize_user_code(user_code: str) -> str:
    """The user code as stored: upper case, letters and digits only."""
    return "".join(ch for ch in str(user_code).upper() if ch.isalnum())


@attrs.define
class PendingDevice:
    """One device login in progress; ``user_code`` without its dash."""

    device_code: str = attrs.field(repr=False)
    user_code: str
    client_id: str
    expires_at: datetime
    interval: int
    last_poll: datetime | None = None
    user: Principal | None = None
    denied: bool = False

    @property
    def shown_user_code(self) -> str:
        """The user code as people read it: two groups of four joined by a dash."""
        return f"{self.user_code[:4]}-{self.user_code[4:]}"


class DeviceLoginStore(Protocol):
    """Where pending devices live. Each method is atomic; a device is found by its device
    code or by its user code (normalized)."""

    def forget_expired(self, before: datetime) -> None:
        """Forget the devices that expired before ``before``."""

    def add(self, device: PendingDevice) -> bool:
        """Store ``device``; ``False`` (and nothing stored) when its user code is taken."""

    def count(self) -> int:
        """How many devices are stored."""

    def find(self, device_code: str) -> PendingDevice | None: ...

    def find_user_code(self, user_code: str) -> PendingDevice | None: ...

    def record_poll(self, device_code: str, at: datetime, interval: int) -> None: ...

    def decide(self, user_code: str, user: Principal | None) -> bool:
        """Approve for ``user`` (or deny, for ``None``) a device not yet decided; ``False``
        when there is none such."""

    def take(self, device_code: str) -> bool:
        """Forget the device; ``False`` when it was gone already (another poller took it)."""

    def all(self) -> list[PendingDevice]: ...


class MemoryDeviceLogins(DeviceLoginStore):
    """Pending devices in dicts; the caller (``DeviceFlow``) serializes access."""

    def __init__(self) -> None:
        self._devices: dict[str, PendingDevice] = {}
        self._user_codes: dict[str, str] = {}

    def forget_expired(self, before: datetime) -> None:
        for old in [d for d in self._devices.values() if d.expires_at < before]:
            self.take(old.device_code)

    def add(self, device: PendingDevice) -> bool:
        if device.user_code in self._user_codes:
            return False
        self._devices[device.device_code] = device
        self._user_codes[device.user_code] = device.device_code
        return True

    def count(self) -> int:
        return len(self._devices)

    def find(self, device_code: str) -> PendingDevice | None:
        return self._devices.get(device_code)

    def find_user_code(self, user_code: str) -> PendingDevice | None:
        device_code = self._user_codes.get(user_code)
        return self.find(device_code) if device_code is not None else None

    def record_poll(self, device_code: str, at: datetime, interval: int) -> None:
        device = self._devices.get(device_code)
        if device is not None:
            device.last_poll, device.interval = at, interval

    def decide(self, user_code: str, user: Principal | None) -> bool:
        device_code = self._user_codes.get(user_code)
        device = self._devices.get(device_code) if device_code is not None else None
        if device is None or device.user is not None or device.denied:
            return False
        if user is None:
            device.denied = True
        else:
            device.user = user
        return True

    def take(self, device_code: str) -> bool:
        device = self._devices.pop(device_code, None)
        if device is None:
            return False
        self._user_codes.pop(device.user_code, None)
        return True

    def all(self) -> list[PendingDevice]:
        return list(self._devices.values())


class DeviceFlow:
    """Pending device authorizations and their rules (see the module docstring).
    ``expires_in`` and ``interval`` are seconds; ``max_pending`` of None means no limit."""

    def __init__(
        self,
        now: Callable[[], datetime],
        *,
        expires_in: int,
        interval: int,
        max_pending: int | None = None,
        new_device_code: Callable[[], str] = random_device_code,
        new_user_code: Callable[[], str] = random_user_code,
        store: DeviceLoginStore | None = None,
    ) -> None:
        if expires_in <= 0 or interval <= 0:
            raise InvalidInput("device code lifetimes and intervals must be positive")
        self.expires_in = expires_in
        self.interval = interval
        self._now = now
        self._max_pending = max_pending
        self._new_device_code = new_device_code
        self._new_user_code = new_user_code
        self._lock = threading.Lock()
        self._store: DeviceLoginStore = store if store is not None else MemoryDeviceLogins()

    def start(self, client_id: str) -> PendingDevice:
        """A new pending device. ``Unavailable`` when ``max_pending`` are pending already."""
        now = self._now()
        # Keep expired codes for one more lifetime so their pollers hear ``expired_token``.
        forget_before = now - timedelta(seconds=self.expires_in)
        with self._lock:
            self._store.forget_expired(forget_before)
            if self._max_pending is not None and self._store.count() >= self._max_pending:
                raise Unavailable("too many device logins in progress; try again later")
            device_code = self._new_device_code()
            for _ in range(_USER_CODE_ATTEMPTS):
                device = PendingDevice(
                    device_code=device_code,
                    user_code=normalize_user_code(self._new_user_code()),
                    client_id=client_id,
                    expires_at=now + timedelta(seconds=self.expires_in),
                    interval=self.interval,
                )
                if self._store.add(device):
                    return device
        raise Unavailable("no free user code could be found; try again later")

    def poll(self, device_code: str) -> Principal:
        """The principal who approved the device, once; ``DeviceAuthorizationPending`` until
        then, ``NotFound`` for an unknown (or already answered) device code."""
        now = self._now()
        with self._lock:
            device = self._store.find(device_code)
            if device is None:
                raise NotFound("device code", "(redacted)")
            if now >= device.expires_at:
                raise DeviceAuthorizationPending("expired_token")
            previous = device.last_poll
            if previous is not None and (now - previous).total_seconds() < device.interval:
                self._store.record_poll(device_code, now, device.interval + SLOW_DOWN_SECONDS)
                raise DeviceAuthorizationPending("slow_down")
            self._store.record_poll(device_code, now, device.interval)
            if device.denied:
                raise DeviceAuthorizationPending("access_denied")
            if device.user is None:
                raise DeviceAuthorizationPending("authorization_pending")
            # A device code is good for one token set, on whichever replica polls first.
            if not self._store.take(device_code):
                raise NotFound("device code", "(redacted)")
            return device.user

    def approve(self, user_code: str, user: Principal) -> None:
        """Grant a pending code to ``user``; ``NotFound`` / ``Conflict`` as for ``deny``,
        ``InvalidInput`` when ``user`` is not a user (a device login is a user's session)."""
        if user.kind != "user":
            raise InvalidInput(f"a device login is granted to a user, not to a {user.kind}")
        self._decide(user_code, user)

    def deny(self, user_code: str) -> None:
        """Refuse a pending code. ``NotFound`` for an unknown or expired code, ``Conflict``
        for one already approved or denied."""
        self._decide(user_code, None)

    def pending(self) -> list[PendingDevice]:
        """The devices not yet answered (expired ones included until forgotten)."""
        with self._lock:
            return self._store.all()

    def _decide(self, user_code: str, user: Principal | None) -> None:
        code = normalize_user_code(user_code)
        with self._lock:
            device = self._store.find_user_code(code)
            if device is None or self._now() >= device.expires_at:
                raise NotFound("user code", user_code)
            if not self._store.decide(code, user):
                raise Conflict(f"user code {user_code} was already decided", user_code=user_code)
