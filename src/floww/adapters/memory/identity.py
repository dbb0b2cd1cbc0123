"""In-memory identity: opaque random tokens mapped to principals, API keys kept as SHA-256
digests (the plain text is returned once, never stored), accounts an administrator manages
(``Users``: disabling one refuses its tokens and keys at once), and the RFC 8628 device flow."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import datetime, timedelta

import attrs

from floww.domain.device_flow import DeviceFlow
from floww.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from floww.domain.model import ApiKey, Principal, UserAccount
from floww.ports.api_keys import ApiKeys
from floww.ports.identity import DeviceAuthorization, Identity, TokenSet
from floww.ports.support import Clock
from floww.ports.users import Users

__all__ = ["InMemoryIdentity"]


@attrs.define
class _Grant:
    principal: Principal
    expires_at: datetime


@attrs.frozen
class _StoredKey:
    info: ApiKey
    sha256: str = attrs.field(repr=False)


_API_KEY_PREFIX = "floww_"


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


class InMemoryIdentity(Identity, ApiKeys, Users):
    """Tokens live in a dictionary; time comes from the injected clock, so expiry and
    ``slow_down`` are testable without sleeping. ``create_user``, ``issue_token`` and
    ``revoke`` exist for tests and embedded setups; ``device_flow`` holds the device logins
    in progress. API keys follow the ``ApiKeys`` port, with the same errors as ``LocalAuth``. The
    platform's own tokens are ``InMemoryPlatformTokens``."""

    def __init__(
        self,
        clock: Clock,
        *,
        verification_uri: str = "http://localhost:8000/device",
        device_expires_in: int = 600,
        device_interval: int = 5,
        token_ttl_seconds: int = 3600,
    ) -> None:
        self._clock = clock
        self._verification_uri = verification_uri
        self._token_ttl = token_ttl_seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, _Grant] = {}
        self._users: dict[str, Principal] = {}
        self._api_keys: dict[str, _StoredKey] = {}
        self._accounts: dict[str, UserAccount] = {}
        self._passwords: dict[str, str] = {}
        self.device_flow = DeviceFlow(
            clock.now, expires_in=device_expires_in, interval=device_interval
        )

    # tokens -------------------------------------------------------------------------------

    def create_user(self, email: str, *, admin: bool = False) -> Principal:
        """The user with this email, made on first use."""
        with self._lock:
            if email not in self._users:
                user_id = f"user_{secrets.token_urlsafe(15)}"
                self._users[email] = Principal(id=user_id, kind="user", email=email)
                self._accounts[user_id] = UserAccount(
                    id=user_id, email=email, created_at=self._clock.now(), admin=admin
                )
            return self._users[email]

    # accounts (``Users``) -----------------------------------------------------------------

    def add_user(self, email: str, password: str, *, admin: bool = False) -> UserAccount:
        cleaned = email.strip().lower() if isinstance(email, str) else ""
        if "@" not in cleaned or any(ch.isspace() for ch in cleaned):
            raise InvalidInput(f"{email!r} is not an email address")
        if not isinstance(password, str) or len(password) < 8:
            raise InvalidInput("a password needs at least 8 characters")
        with self._lock:
            if cleaned in self._users:
                raise Conflict(f"a user with email {cleaned} exists already", email=cleaned)
        user = self.create_user(cleaned, admin=admin)
        with self._lock:
            self._passwords[user.id] = _digest(password)
            return self._accounts[user.id]

    def get_account(self, user_id: str) -> UserAccount:
        with self._lock:
            account = self._accounts.get(user_id)
        if account is None:
            raise NotFound("user", user_id)
        return account

    def find_account(self, email: str) -> UserAccount | None:
        with self._lock:
            user = self._users.get(email.strip().lower())
            return None if user is None else self._accounts[user.id]

    def list_accounts(self) -> list[UserAccount]:
        with self._lock:
            return sorted(self._accounts.values(), key=lambda account: account.email)

    def set_disabled(self, user_id: str, disabled: bool) -> UserAccount:
        with self._lock:
            account = self._accounts.get(user_id)
            if account is None:
                raise NotFound("user", user_id)
            account = attrs.evolve(account, disabled=disabled)
            self._accounts[user_id] = account
            if disabled:
                for token in [t for t, g in self._tokens.items() if g.principal.id == user_id]:
                    del self._tokens[token]
            return account

    def change_password(self, user_id: str, current: str, new: str) -> None:
        if not isinstance(new, str) or len(new) < 8:
            raise InvalidInput("a password needs at least 8 characters")
        with self._lock:
            known = self._passwords.get(user_id)
            if known is None or not hmac.compare_digest(known, _digest(str(current))):
                raise Unauthenticated("the current password is wrong")
            self._passwords[user_id] = _digest(new)
            for token in [t for t, g in self._tokens.items() if g.principal.id == user_id]:
                del self._tokens[token]  # every login ends with the old password

    def logout(self, access_token: str) -> None:
        self.verify(access_token)
        if access_token.startswith(_API_KEY_PREFIX):
            raise Unauthenticated("log out with a login's access token, not an API key")
        self.revoke(access_token)

    def _disabled(self, user_id: str) -> bool:
        account = self._accounts.get(user_id)
        return account is not None and account.disabled

    def issue_token(self, principal: Principal, ttl_seconds: int = 3600) -> str:
        if ttl_seconds <= 0:
            raise InvalidInput("a token needs a positive lifetime")
        token = f"flw_{secrets.token_urlsafe(32)}"
        expires_at = self._clock.now() + timedelta(seconds=ttl_seconds)
        with self._lock:
            self._tokens[token] = _Grant(principal, expires_at)
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def verify(self, token: str) -> Principal:
        if not token:
            raise Unauthenticated("no token given")
        if token.startswith(_API_KEY_PREFIX):
            return self._verify_api_key(token)
        with self._lock:
            grant = self._tokens.get(token)
            disabled = grant is not None and self._disabled(grant.principal.id)
        if grant is None or disabled:
            raise Unauthenticated("unknown or revoked token")
        if self._clock.now() >= grant.expires_at:
            raise Unauthenticated("token expired")
        return grant.principal

    # API keys ---------------------------------------------------------------------------

    def create_api_key(
        self, user: Principal, namespace_id: str, name: str, scope: str = "deploy"
    ) -> tuple[str, ApiKey]:
        if not namespace_id or not isinstance(name, str) or not name.strip():
            raise InvalidInput("an API key needs a namespace and a name")
        plaintext = _API_KEY_PREFIX + secrets.token_urlsafe(32)
        info = ApiKey(
            id=f"key_{secrets.token_urlsafe(9)}",
            name=name.strip(),
            namespace_id=namespace_id,
            user_id=user.id,
            created_at=self._clock.now(),
            hint=f"{_API_KEY_PREFIX}...{plaintext[-4:]}",
            scope=scope,
        )
        with self._lock:
            if not any(known.id == user.id for known in self._users.values()):
                raise NotFound("user", user.id)
            self._api_keys[info.id] = _StoredKey(info, _digest(plaintext))
        return plaintext, info

    def list_api_keys(self, user: Principal) -> list[ApiKey]:
        with self._lock:
            found = [k.info for k in self._api_keys.values() if k.info.user_id == user.id]
        return sorted(found, key=lambda info: (info.created_at, info.id))

    def revoke_api_key(self, user: Principal, key_id: str) -> None:
        with self._lock:
            stored = self._api_keys.get(key_id)
            if stored is None or stored.info.user_id != user.id:
                raise NotFound("API key", key_id)
            del self._api_keys[key_id]

    def _verify_api_key(self, plaintext: str) -> Principal:
        digest = _digest(plaintext)
        with self._lock:
            stored = next(
                (k for k in self._api_keys.values() if hmac.compare_digest(k.sha256, digest)),
                None,
            )
            owner = next(
                (u for u in self._users.values() if stored and u.id == stored.info.user_id), None
            )
            disabled = stored is not None and self._disabled(stored.info.user_id)
        if stored is None or disabled:
            raise Unauthenticated("unknown or revoked API key")
        return Principal(
            id=stored.info.user_id,
            kind="api_key",
            email=owner.email if owner is not None else None,
            namespace_id=stored.info.namespace_id,
            scopes=(stored.info.scope,),
        )

    # device authorization (RFC 8628) ------------------------------------------------------

    def start_device(self, client_id: str) -> DeviceAuthorization:
        device = self.device_flow.start(client_id)
        return DeviceAuthorization.of(
            device, verification_uri=self._verification_uri, expires_in=self.device_flow.expires_in
        )

    def poll_device(self, device_code: str) -> TokenSet:
        user = self.device_flow.poll(device_code)
        token = self.issue_token(user, self._token_ttl)
        return TokenSet(access_token=token, expires_in=self._token_ttl)

    def approve_device(self, user_code: str, user: Principal) -> None:
        self.device_flow.approve(user_code, user)

    def deny_device(self, user_code: str) -> None:
        self.device_flow.deny(user_code)
