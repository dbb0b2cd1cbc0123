"""Local verification of WorkOS access tokens against the client's JWKS.

``WorkOSTokenVerifier.claims`` accepts a token only when all of these hold:

- it is an RS256 JWT signed by a key of ``<base>/sso/jwks/<client id>`` (the key set of this
  client: a token of another client is signed by another set);
- ``iss`` is the WorkOS base URL (or a configured custom auth domain), optionally followed by
  ``/user_management/<client id>``; a ``client_id`` or ``aud`` claim, when present, names this
  client;
- ``exp`` is in the future, give or take ``leeway`` seconds; ``sub`` is present.

Keys rotate: a token whose ``kid`` is not in the cached set makes the verifier fetch the set
again, at most once per ``refresh_interval`` seconds, so a stream of forged tokens with made-up
``kid`` values costs WorkOS one request per interval, not one per token. The set is also
re-fetched when it is older than ``lifespan``; if WorkOS cannot be reached then, the keys known
already stay in use.

Errors: ``Unauthenticated`` for every refused token; ``Unavailable`` when the key set cannot
be fetched (WorkOS unreachable or answering an error).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKClientConnectionError, PyJWKClientError

from floww.domain.errors import Unauthenticated, Unavailable

__all__ = ["WorkOSTokenVerifier"]


class WorkOSTokenVerifier:
    """Verifies WorkOS access tokens for ``client_id`` (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        *,
        issuer: str | None = None,
        leeway: float = 30.0,
        refresh_interval: float = 30.0,
        lifespan: float = 300.0,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        base = base_url.rstrip("/")
        self.client_id = client_id
        self.jwks_url = f"{base}/sso/jwks/{client_id}"
        root = (issuer or base).rstrip("/")
        self._issuers = [root, f"{root}/user_management/{client_id}"]
        self._leeway = leeway
        self._refresh_interval = refresh_interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last_refresh: float | None = None
        self._lifespan = lifespan
        self._keys: dict[str, PyJWK] = {}  # parsed once per fetch: parsing costs more than checking
        self._loaded_at: float | None = None
        self._jwks = PyJWKClient(
            self.jwks_url, cache_keys=False, cache_jwk_set=False, timeout=int(timeout)
        )

    def __repr__(self) -> str:
        return f"WorkOSTokenVerifier(jwks_url={self.jwks_url!r})"

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of an access token; ``Unauthenticated`` / ``Unavailable`` as
        the module docstring says."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the access token is not a JWT") from None
        kid = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(kid, str) or not kid:
            raise Unauthenticated("the access token is not an RS256 token with a key id")
        key = self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self._issuers,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "sub", "sid"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token expired; log in again") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("the access token was issued for another client") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the access token is not valid ({exc})") from None
        for name in ("client_id", "aud"):
            value = claims.get(name)
            named = value if isinstance(value, list) else [value]
            if value is not None and self.client_id not in named:
                raise Unauthenticated("the access token was issued for another client")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthenticated("the access token names no user")
        return claims

    def _key(self, kid: str) -> PyJWK:
        now = self._monotonic()
        with self._lock:
            keys, loaded_at = self._keys, self._loaded_at
        if loaded_at is None or now - loaded_at >= self._lifespan:
            keys = self._load(now, keep=keys)
        found = keys.get(kid)
        if found is not None:
            return found
        with self._lock:
            allowed = (
                self._last_refresh is None or now - self._last_refresh >= self._refresh_interval
            )
            if allowed:
                self._last_refresh = now
        if allowed:
            found = self._load(now, keep=keys).get(kid)
        if found is None:
            raise Unauthenticated("the access token is signed by an unknown key")
        return found

    def _load(self, now: float, *, keep: dict[str, PyJWK]) -> dict[str, PyJWK]:
        """The key set fetched now. When the fetch fails and keys are known already, they
        stay in use (a WorkOS outage does not log everyone out); ``Unavailable`` otherwise."""
        try:
            fetched = self._jwks.get_signing_keys(refresh=True)
        except PyJWKClientConnectionError as exc:
            if keep:
                return keep
            raise Unavailable(
                "WorkOS could not be reached to fetch its signing keys; try again shortly",
                url=self.jwks_url,
            ) from exc
        except PyJWKClientError:
            fetched = []  # a set without usable signing keys knows no kid
        keys = {k.key_id: k for k in fetched if k.key_id}
        with self._lock:
            self._keys, self._loaded_at = keys, now
        return keys
