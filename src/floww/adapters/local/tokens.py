"""Compact signed tokens: JSON Web Tokens (RFC 7519) signed with HMAC-SHA256, one key per purpose,
verified by PyJWT.

Encoding is done here, with the same bytes PyJWT's ``jwt.encode`` gives (a test compares them):
the header of each purpose is encoded once, and the key is used as it is. PyJWT would serialise
the header and inspect the key (PEM? DER? long enough?) on every call, which cost as much as a
webhook's database write; every execution of a webhook mints a token.

The header names the purpose as ``kid`` and the payload repeats it as ``typ``; the signature is
checked with that purpose's key, and ``decode`` accepts only the purposes its caller names. So a
token minted for one purpose (an execution token, say) is rejected where another is expected
(a user access token), even though both are well-formed JWTs. Only ``HS256`` is accepted:
``alg=none`` and every other algorithm are refused before any key is used.

Every token carries ``iat``, ``exp`` (whole seconds since the epoch) and a random ``jti``, so two
tokens issued in the same second differ. Expiry is judged against the injected ``now``, not the
wall clock. Failures raise ``Unauthenticated`` with a short reason and never echo the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import jwt
import orjson

from floww.adapters.entropy import random_bytes
from floww.domain.errors import InvalidInput, Unauthenticated

__all__ = ["TokenCodec", "claimed_purpose"]

_ALGORITHM = "HS256"
_MAX_TOKEN_LENGTH = 8192
_RESERVED = frozenset({"typ", "iat", "exp", "jti"})


def _b64(data: bytes) -> bytes:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _header(token: str) -> dict[str, Any] | None:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH or token.count(".") != 2:
        return None
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None
    return header if isinstance(header, dict) else None


def claimed_purpose(token: str) -> str | None:
    """The purpose a token's header claims (unverified), or ``None`` when it is not a token of
    this codec's shape: a router's question, never a check."""
    header = _header(token)
    if header is None or header.get("alg") != _ALGORITHM:
        return None
    purpose = header.get("kid")
    return purpose if isinstance(purpose, str) else None


class TokenCodec:
    """Encodes and verifies HS256 JWTs; ``keys`` maps each purpose to its secret key."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self._keys = dict(keys)
        # the header segment of each purpose, as PyJWT spells it (keys sorted, no spaces)
        self._headers = {
            purpose: _b64(
                json.dumps(
                    {"alg": _ALGORITHM, "kid": purpose, "typ": "JWT"},
                    separators=(",", ":"),
                    sort_keys=True,
                ).encode()
            )
            for purpose in self._keys
        }

    def __repr__(self) -> str:
        return f"TokenCodec(purposes={sorted(self._keys)!r})"

    def encode(
        self,
        purpose: str,
        claims: Mapping[str, Any],
        *,
        now: datetime,
        ttl_seconds: int,
    ) -> str:
        """A token of ``purpose`` carrying ``claims``, valid for ``ttl_seconds`` from ``now``.
        ``InvalidInput`` for an unknown purpose, a non-positive lifetime or reserved claims."""
        if purpose not in self._keys:
            raise InvalidInput(f"no signing key for {purpose!r} tokens")
        if ttl_seconds <= 0:
            raise InvalidInput("a token needs a positive lifetime")
        if _RESERVED & claims.keys():
            raise InvalidInput(f"claims {sorted(_RESERVED & claims.keys())} are set by the codec")
        issued = int(now.timestamp())
        payload = {
            **claims,
            "typ": purpose,
            "iat": issued,
            "exp": issued + ttl_seconds,
            "jti": _b64(random_bytes(12)).decode("ascii"),
        }
        # Strings and integers are spelled alike by both encoders (ASCII once escaped); any
        # other claim is encoded by the standard library, as PyJWT would encode it.
        encoded = b""
        if all(type(value) is str or type(value) is int for value in payload.values()):
            try:
                encoded = orjson.dumps(payload)
            except TypeError:  # lone surrogates, integers past 64 bits
                encoded = b""
        if not encoded or not encoded.isascii():
            encoded = json.dumps(payload, separators=(",", ":")).encode()
        body = _b64(encoded)
        signing_input = self._headers[purpose] + b"." + body
        signature = hmac.new(self._keys[purpose], signing_input, hashlib.sha256).digest()
        return (signing_input + b"." + _b64(signature)).decode("ascii")

    def decode(
        self, token: str, *, purposes: Collection[str], now: datetime
    ) -> tuple[str, dict[str, Any]]:
        """The purpose and claims of a valid token. ``Unauthenticated`` when it is malformed,
        signed with another key, of a purpose not in ``purposes``, or expired at ``now``."""
        header = _header(token)
        if header is None:
            raise Unauthenticated("malformed token")
        if header.get("alg") != _ALGORITHM:
            raise Unauthenticated("unsupported token algorithm")
        purpose = header.get("kid")
        if not isinstance(purpose, str) or purpose not in self._keys:
            raise Unauthenticated("unknown token type")
        try:
            # expiry is checked below against the injected clock, not PyJWT's wall clock
            claims = jwt.decode(
                token,
                self._keys[purpose],
                algorithms=[_ALGORITHM],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidSignatureError:
            raise Unauthenticated("invalid token signature") from None
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        if purpose not in purposes:
            raise Unauthenticated(f"a {purpose} token is not accepted here")
        if not isinstance(claims, dict) or claims.get("typ") != purpose:
            raise Unauthenticated("malformed token")
        expires = claims.get("exp")
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise Unauthenticated("malformed token")
        if now.timestamp() >= expires:
            raise Unauthenticated("token expired")
        return purpose, claims
