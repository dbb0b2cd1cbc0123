"""Local accounts: users with scrypt-hashed passwords, API keys stored as SHA-256 digests, and
logins (refresh-token families).

Everything lives in one JSON file, ``<home>/auth/accounts.json`` (mode 0600, directory 0700).
Writes hold a thread lock and an exclusive ``flock`` on ``accounts.lock`` (POSIX), then replace
the file atomically, so concurrent writers in several server processes do not lose updates and
readers never see half a file.

- A user is keyed by the lower-cased email; the id given on creation never changes.
- Passwords are hashed with ``hashlib.scrypt`` and a random salt; the cost parameters are
  stored beside each hash, so they can be raised without invalidating old hashes.
- API keys (``floww_...``) are returned in plain text once, at creation; the file keeps only
  their SHA-256 digest. A 256-bit random key needs no slow hash: it cannot be guessed.
- A user may be ``admin`` (manages users) and may be ``disabled``: a disabled user's keys and
  logins are refused at verification, not at expiry.
- Logins (refresh-token families, ``floww.ports.logins``) may live in the same file
  (``FileLogins``, under ``sessions``), for a ``LocalAuth`` given no database; the server keeps
  them in its database (``SqlLogins``).

Reads are served from memory while the file is unchanged (every token check reads it). Each
read ``stat``s the file and compares device, inode, size, mtime and ctime with those of the
parsed copy. A write replaces the file by a new one, so its inode differs from the one it
replaces; a file's times are only as fine as the kernel's clock tick (or a second on some
filesystems), so a copy parsed while the file was younger than ``SETTLE_SECONDS`` is not
trusted: such a file is parsed on every read until it has aged. Past that age, any later write
(by this process or another one on the same home) carries a later mtime, so it is seen by the
next read.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from floww.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated, Unavailable
from floww.domain.model import Principal, UserAccount
from floww.ports.logins import Login, LoginStore, Rotation
from floww.ports.support import Clock

__all__ = [
    "API_KEY_PREFIX",
    "SETTLE_SECONDS",
    "AccountStore",
    "ApiKeyInfo",
    "FileLogins",
    "normalize_email",
]

API_KEY_PREFIX = "floww_"
_FORMAT_VERSION = 1
_MIN_PASSWORD_LENGTH = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_SCRYPT_MAXMEM = 64 * 1024 * 1024
# How old the file must be before a parsed copy is trusted by its stat (module docstring): more
# than a coarse filesystem's one-second mtime, with margin.
SETTLE_SECONDS = 2.0
_SETTLE_NS = int(SETTLE_SECONDS * 1e9)


@attrs.frozen
class ApiKeyInfo:
    """What may be shown about an API key: never the key, only a hint of its last characters."""

    id: str
    user_id: str
    namespace_id: str
    name: str
    created_at: datetime
    hint: str
    scope: str


def normalize_email(email: str) -> str:
    """The lookup form of an email; ``InvalidInput`` when it is not shaped like one."""
    normalized = email.strip().lower() if isinstance(email, str) else ""
    local, at, domain = normalized.partition("@")
    if (
        not at
        or not local
        or not domain
        or "@" in domain
        or len(normalized) > 254
        or any(ch.isspace() for ch in normalized)
    ):
        raise InvalidInput(f"{email!r} is not an email address")
    return normalized


def _hash_password(password: str) -> dict[str, Any]:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, maxmem=_SCRYPT_MAXMEM, dklen=32, **_SCRYPT
    )
    return {"scheme": "scrypt", **_SCRYPT, "salt": salt.hex(), "hash": digest.hex()}


def _password_matches(password: str, record: dict[str, Any]) -> bool:
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=bytes.fromhex(record["salt"]),
        n=int(record["n"]),
        r=int(record["r"]),
        p=int(record["p"]),
        maxmem=_SCRYPT_MAXMEM,
        dklen=len(record["hash"]) // 2,
    )
    return hmac.compare_digest(digest.hex(), record["hash"])


# Checked against when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_PASSWORD = {"scheme": "scrypt", **_SCRYPT, "salt": "00" * 16, "hash": "00" * 32}


def _key_digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def _empty() -> dict[str, Any]:
    return {"version": _FORMAT_VERSION, "users": {}, "api_keys": {}, "sessions": {}}


def _account(user: dict[str, Any]) -> UserAccount:
    return UserAccount(
        id=user["id"],
        email=user["email"],
        created_at=datetime.fromisoformat(user["created_at"]),
        admin=bool(user.get("admin", False)),
        disabled=bool(user.get("disabled", False)),
    )


def _by_id(data: dict[str, Any], user_id: str) -> dict[str, Any] | None:
    return next((u for u in data["users"].values() if u["id"] == user_id), None)


class AccountStore:
    """Users and API keys of one floww home. See the module docstring for the file layout."""

    def __init__(self, home: Path, clock: Clock) -> None:
        self._dir = Path(home) / "auth"
        self._path = self._dir / "accounts.json"
        self._clock = clock
        self._lock = threading.Lock()
        # (stat signature, parsed data) of a settled file; the data is never changed in place
        self._cached: tuple[tuple[int, ...], dict[str, Any]] | None = None
        self.loads = 0  # how many times the file was parsed (diagnostics, tests)

    def __repr__(self) -> str:
        return f"AccountStore(path={str(self._path)!r})"

    @property
    def path(self) -> Path:
        return self._path

    # users --------------------------------------------------------------------------------

    def create_user(
        self, email: str, password: str | None = None, *, admin: bool = False
    ) -> Principal:
        """The user with this email, created on first use. ``Conflict`` when a password is
        given for an email that exists already; ``InvalidInput`` for a malformed email or a
        password shorter than 8 characters."""
        key = normalize_email(email)
        if password is not None and len(password) < _MIN_PASSWORD_LENGTH:
            raise InvalidInput(f"a password needs at least {_MIN_PASSWORD_LENGTH} characters")
        with self._write() as data:
            user = data["users"].get(key)
            if user is not None:
                if password is not None:
                    raise Conflict(f"a user with email {key} exists already", email=key)
                return self._principal(user)
            user = {
                "id": f"user_{secrets.token_urlsafe(12)}",
                "email": key,
                "created_at": self._clock.now().isoformat(),
                "password": _hash_password(password) if password is not None else None,
                "admin": admin,
                "disabled": False,
            }
            data["users"][key] = user
            return self._principal(user)

    def check_password(self, email: str, password: str) -> Principal:
        """The user whose password this is; ``Unauthenticated`` otherwise (the message does
        not say whether the email exists)."""
        if not isinstance(password, str):
            raise Unauthenticated("wrong email or password")
        try:
            key = normalize_email(email)
        except InvalidInput:
            key = ""
        user = self._read()["users"].get(key)
        record = user.get("password") if user is not None else None
        matches = _password_matches(password, record or _DUMMY_PASSWORD)
        if user is None or record is None or not matches:
            raise Unauthenticated("wrong email or password")
        if user.get("disabled"):
            raise Unauthenticated("this account is disabled; ask an administrator")
        return self._principal(user)

    def has_users(self) -> bool:
        return bool(self._read()["users"])

    def get_user(self, user_id: str) -> Principal:
        """The user with this id; ``NotFound`` otherwise."""
        for user in self._read()["users"].values():
            if user["id"] == user_id:
                return self._principal(user)
        raise NotFound("user", user_id)

    def get_account(self, user_id: str) -> UserAccount:
        user = _by_id(self._read(), user_id)
        if user is None:
            raise NotFound("user", user_id)
        return _account(user)

    def find_account(self, email: str) -> UserAccount | None:
        user = self._read()["users"].get(normalize_email(email))
        return None if user is None else _account(user)

    def list_accounts(self) -> list[UserAccount]:
        return sorted(map(_account, self._read()["users"].values()), key=lambda a: a.email)

    def set_disabled(self, user_id: str, disabled: bool) -> UserAccount:
        with self._write() as data:
            user = _by_id(data, user_id)
            if user is None:
                raise NotFound("user", user_id)
            user["disabled"] = disabled
            return _account(user)

    def change_password(self, user_id: str, current: str, new: str) -> None:
        if not isinstance(new, str) or len(new) < _MIN_PASSWORD_LENGTH:
            raise InvalidInput(f"a password needs at least {_MIN_PASSWORD_LENGTH} characters")
        with self._write() as data:
            user = _by_id(data, user_id)
            record = user.get("password") if user is not None else None
            matches = isinstance(current, str) and _password_matches(
                current, record or _DUMMY_PASSWORD
            )
            if user is None or record is None or not matches:
                raise Unauthenticated("the current password is wrong")
            user["password"] = _hash_password(new)

    def require_active(self, user_id: str) -> None:
        """``Unauthenticated`` when the user is disabled. A user id without an account passes
        (tokens issued by hand)."""
        user = _by_id(self._read(), user_id)
        if user is not None and user.get("disabled"):
            raise Unauthenticated("this account is disabled")

    # API keys -----------------------------------------------------------------------------

    def create_api_key(
        self, user_id: str, namespace_id: str, name: str, scope: str = "deploy"
    ) -> tuple[str, ApiKeyInfo]:
        """A new key; the plain text is returned here and nowhere else."""
        if not namespace_id or not name or not name.strip():
            raise InvalidInput("an API key needs a namespace and a name")
        plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
        record = {
            "id": f"key_{secrets.token_urlsafe(9)}",
            "user_id": user_id,
            "namespace_id": namespace_id,
            "name": name.strip(),
            "created_at": self._clock.now().isoformat(),
            "hint": f"{API_KEY_PREFIX}...{plaintext[-4:]}",
            "sha256": _key_digest(plaintext),
            "scope": scope,
        }
        with self._write() as data:
            if not any(user["id"] == user_id for user in data["users"].values()):
                raise NotFound("user", user_id)
            data["api_keys"][record["id"]] = record
        return plaintext, _info(record)

    def list_api_keys(self, user_id: str) -> list[ApiKeyInfo]:
        """The user's keys, oldest first."""
        records = self._read()["api_keys"].values()
        found = [_info(r) for r in records if r["user_id"] == user_id]
        return sorted(found, key=lambda info: (info.created_at, info.id))

    def revoke_api_key(self, user_id: str, key_id: str) -> None:
        """Forget a key; ``NotFound`` when the user has no key with this id."""
        with self._write() as data:
            record = data["api_keys"].get(key_id)
            if record is None or record["user_id"] != user_id:
                raise NotFound("API key", key_id)
            del data["api_keys"][key_id]

    def verify_api_key(self, plaintext: str) -> Principal:
        """The namespace-scoped principal of a live key; ``Unauthenticated`` otherwise."""
        digest = _key_digest(plaintext)
        data = self._read()
        for record in data["api_keys"].values():
            if hmac.compare_digest(record["sha256"], digest):
                user = _by_id(data, record["user_id"])
                if user is None or user.get("disabled"):
                    raise Unauthenticated("the owner of this API key is disabled or gone")
                return Principal(
                    id=record["user_id"],
                    kind="api_key",
                    email=user["email"],
                    namespace_id=record["namespace_id"],
                    scopes=(record.get("scope", "deploy"),),
                )
        raise Unauthenticated("unknown or revoked API key")

    # file ---------------------------------------------------------------------------------

    @staticmethod
    def _principal(user: dict[str, Any]) -> Principal:
        return Principal(id=user["id"], kind="user", email=user["email"])

    def _read(self) -> dict[str, Any]:
        """The file's data, for reading only (callers never change it): the parsed copy while
        the file is unchanged and settled (module docstring), else parsed again."""
        try:
            status = os.stat(self._path)
        except FileNotFoundError:
            return _empty()
        except OSError as exc:
            raise Unavailable(f"cannot read {self._path}: {exc.strerror}") from exc
        cached = self._cached
        if cached is not None and cached[0] == _signature(status):
            return cached[1]
        return self._load()

    def _load(self, *, keep: bool = True) -> dict[str, Any]:
        """Parse the file; keep the copy for readers (``keep``) when the file has settled."""
        try:
            with open(self._path, encoding="utf-8") as handle:
                # the signature of what is read: the file may be replaced after the stat
                status = os.fstat(handle.fileno())
                data = json.loads(handle.read())
        except FileNotFoundError:
            return _empty()
        except OSError as exc:
            raise Unavailable(f"cannot read {self._path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise Unavailable(f"{self._path} is not valid JSON; restore it from a backup") from exc
        if not isinstance(data, dict) or data.get("version") != _FORMAT_VERSION:
            raise Unavailable(f"{self._path} has an unknown format")
        data.setdefault("sessions", {})
        self.loads += 1
        if keep:
            settled = time.time_ns() - status.st_mtime_ns > _SETTLE_NS
            self._cached = (_signature(status), data) if settled else None
        return data

    @contextlib.contextmanager
    def _write(self) -> Iterator[dict[str, Any]]:
        """Load, let the caller change, and save, under both locks. Nothing is saved when the
        caller raises."""
        with self._lock, self._file_lock():
            data = self._load(keep=False)  # a copy of its own: the caller changes it
            yield data
            self._save(data)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        self._ensure_dir()
        try:
            fd = os.open(self._dir / "accounts.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise Unavailable(f"cannot lock {self._path}: {exc.strerror}") from exc
        try:
            if sys.platform != "win32":
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _save(self, data: dict[str, Any]) -> None:
        tmp = self._dir / f".accounts.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise Unavailable(f"cannot write {self._path}: {exc.strerror}") from exc

    def _ensure_dir(self) -> None:
        if not self._dir.exists():
            try:
                self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self._dir, 0o700)  # mkdir's mode is filtered by the umask
            except OSError as exc:
                raise Unavailable(f"cannot create {self._dir}: {exc.strerror}") from exc


def _signature(status: os.stat_result) -> tuple[int, ...]:
    return (
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


def _info(record: dict[str, Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=record["id"],
        user_id=record["user_id"],
        namespace_id=record["namespace_id"],
        name=record["name"],
        created_at=datetime.fromisoformat(record["created_at"]),
        hint=record["hint"],
        scope=record.get("scope", "deploy"),
    )


class FileLogins(LoginStore):
    """Logins in the accounts file of ``accounts`` (under ``sessions``), each change one locked
    write: for a ``LocalAuth`` without a database. Shared by processes on one home."""

    def __init__(self, accounts: AccountStore) -> None:
        self._accounts = accounts

    def start(self, login: Login) -> None:
        with self._accounts._write() as data:
            data["sessions"][login.id] = {
                "user_id": login.user_id,
                "current": login.current,
                "expires_at": login.expires_at.isoformat(),
                "revoked": login.revoked,
            }

    def find(self, login_id: str) -> Login | None:
        record = self._accounts._read()["sessions"].get(login_id)
        return None if record is None else _login(login_id, record)

    def rotate(
        self, login_id: str, user_id: str, presented: str, successor: str, now: datetime
    ) -> Rotation:
        with self._accounts._write() as data:
            record = data["sessions"].get(login_id)
            if record is None or record["user_id"] != user_id or record["revoked"]:
                return Rotation.ENDED
            if datetime.fromisoformat(record["expires_at"]) <= now:
                return Rotation.ENDED
            if not hmac.compare_digest(record["current"], presented):
                record["revoked"] = True
                return Rotation.REUSED
            record["current"] = successor
            return Rotation.ROTATED

    def revoke(self, login_id: str) -> None:
        with self._accounts._write() as data:
            record = data["sessions"].get(login_id)
            if record is not None:
                record["revoked"] = True

    def revoke_user(self, user_id: str) -> None:
        with self._accounts._write() as data:
            for record in data["sessions"].values():
                if record["user_id"] == user_id:
                    record["revoked"] = True

    def forget_expired(self, before: datetime) -> None:
        with self._accounts._write() as data:
            gone = [
                login_id
                for login_id, record in data["sessions"].items()
                if datetime.fromisoformat(record["expires_at"]) < before
            ]
            for login_id in gone:
                del data["sessions"][login_id]


def _login(login_id: str, record: dict[str, Any]) -> Login:
    return Login(
        id=login_id,
        user_id=record["user_id"],
        current=record["current"],
        expires_at=datetime.fromisoformat(record["expires_at"]),
        revoked=bool(record["revoked"]),
    )
