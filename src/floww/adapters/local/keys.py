"""Key files: one random 32-byte key per purpose under ``<home>/keys/<purpose>.key``.

Each purpose (``access``, ``refresh``, ``execution``, ``registry``, ``secrets``) has its own key,
so a token minted for one purpose can never be verified under another, and a leaked key exposes
one kind of credential only. A key file holds the key as 64 hex digits and a newline.

- Outside production mode a missing key is created on first start: the directory with mode
  0700, the file with mode 0600, written to a temporary file and linked into place, so a reader
  never sees half a key and two processes starting at once agree on one key.
- In production mode (``production=True``) nothing is invented: a missing, empty, too short,
  malformed or well-known default key raises ``InvalidInput`` naming the file and how to
  create it. Refusing to start beats signing tokens with a key nobody backs up.
- An existing key file that cannot be used raises ``InvalidInput`` in either mode; it is never
  overwritten.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from floww.domain.errors import InvalidInput, Unavailable

__all__ = ["KEY_PURPOSES", "KeyStore"]

KEY_PURPOSES = ("access", "refresh", "execution", "registry", "secrets")
KEY_SIZE = 32

_log = logging.getLogger(__name__)

# Placeholders people paste into config files; a key equal to one of them is not a secret.
_KNOWN_DEFAULTS = frozenset(
    {"changeme", "change-me", "change_me", "changeit", "secret", "password", "default", "key"}
)


def _create_hint(path: Path) -> str:
    return f"create it with `umask 077; openssl rand -hex {KEY_SIZE} > {path}`"


def _publish(tmp: Path, path: Path) -> None:
    """Move a complete key file into place unless a key is there already."""
    try:
        # link fails when another process won the race; its key is the one to use
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:
        # some file systems have no hard links; a rename is atomic too, the race window is not
        if not path.exists():
            os.replace(tmp, path)


class KeyStore:
    """Reads, and outside production mode creates, the key files of one floww home.

    ``purposes`` are loaded eagerly at construction so a bad key stops the process at start,
    not at the first request. ``key`` raises ``InvalidInput`` for an unknown purpose.
    """

    def __init__(
        self,
        home: Path,
        *,
        purposes: Iterable[str] = KEY_PURPOSES,
        production: bool = False,
    ) -> None:
        self._dir = Path(home) / "keys"
        self._production = production
        self._keys: dict[str, bytes] = {}
        for purpose in purposes:
            if purpose not in KEY_PURPOSES:
                raise InvalidInput(f"unknown key purpose {purpose!r}")
            self._keys[purpose] = self._load(purpose)

    def __repr__(self) -> str:
        return f"KeyStore(dir={str(self._dir)!r}, purposes={sorted(self._keys)!r})"

    def path(self, purpose: str) -> Path:
        return self._dir / f"{purpose}.key"

    def key(self, purpose: str) -> bytes:
        try:
            return self._keys[purpose]
        except KeyError:
            raise InvalidInput(f"no key loaded for purpose {purpose!r}") from None

    # loading ------------------------------------------------------------------------------

    def _load(self, purpose: str) -> bytes:
        path = self.path(purpose)
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            if self._production:
                raise InvalidInput(
                    f"production mode: {purpose} key {path} is missing; "
                    f"{_create_hint(path)} or run without production mode",
                    path=str(path),
                ) from None
            return self._create(purpose)
        except UnicodeDecodeError:
            raise self._unusable(purpose, "is not hex text") from None
        except OSError as exc:
            raise Unavailable(f"cannot read {purpose} key {path}: {exc.strerror}") from exc
        return self._parse(purpose, text)

    def _parse(self, purpose: str, text: str) -> bytes:
        stripped = text.strip()
        if not stripped:
            raise self._unusable(purpose, "is missing (the file is empty)")
        if stripped.lower() in _KNOWN_DEFAULTS:
            raise self._unusable(purpose, "is a well-known default")
        try:
            key = bytes.fromhex(stripped)
        except ValueError:
            raise self._unusable(purpose, f"is not {KEY_SIZE * 2} hex digits") from None
        if len(key) < KEY_SIZE:
            raise self._unusable(purpose, f"is too short ({len(key)} of {KEY_SIZE} bytes)")
        if len(set(key)) == 1:
            raise self._unusable(purpose, "is a well-known default (one repeated byte)")
        return key[:KEY_SIZE]

    def _unusable(self, purpose: str, why: str) -> InvalidInput:
        path = self.path(purpose)
        mode = "production mode: " if self._production else ""
        return InvalidInput(
            f"{mode}{purpose} key {path} {why}; replace it ({_create_hint(path)}), "
            "knowing that what it protects becomes unreadable",
            path=str(path),
        )

    def _create(self, purpose: str) -> bytes:
        path = self.path(purpose)
        try:
            if not self._dir.exists():
                self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self._dir, 0o700)  # mkdir's mode is filtered by the umask
            tmp = self._dir / f".{purpose}.{secrets.token_hex(8)}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as handle:
                    handle.write(secrets.token_bytes(KEY_SIZE).hex() + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                _publish(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            text = path.read_text(encoding="ascii")
        except OSError as exc:
            raise Unavailable(f"cannot create {purpose} key {path}: {exc.strerror}") from exc
        _log.info("created %s key file %s", purpose, path)
        return self._parse(purpose, text)
