"""Compact signed tokens: JSON Web Tokens (RFC 7519) signed with HMAC-SHA256, one key per purpose.

The header names the purpose as ``kid`` and the payload repeats it as ``typ``; the signature is
checked with that purpose's key, and ``decode`` accepts only the purposes its caller names. So a
token minted for one purpose (an execution token, say) is rejected where another is expected
(a user access token), even though both are well-formed JWTs.

Every token carries ``iat``, ``exp`` (whole seconds since the epoch) and a random ``jti``, so two
tokens issued in the same second differ. Failures raise ``Unauthenticated`` with a short reason
and never echo the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from floww.domain.errors import InvalidInput, Unauthenticated

__all__ = ["TokenCodec", "claimed_purpose"]

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TOKEN_LENGTH = 8192
_RESERVED = frozenset({"typ", "iat", "exp", "jti"})


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_segment(value: Mapping[str, Any]) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return _b64encode(text.encode("utf-8"))


def _parse_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (ValueError, RecursionError):
        raise Unauthenticated("malformed token") from None
    if not isinstance(value, dict):
        raise Unauthenticated("malformed token")
    return value


def claimed_purpose(token: str) -> str | None:
    """The purpose a token's header claims (unverified), or ``None`` when it is not a token of
    this codec's shape: a router's question, never a check."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH or token.count(".") != 2:
        return None
    segment = token.split(".", 1)[0]
    if not _SEGMENT.fullmatch(segment):
        return None
    try:
        header = _parse_segment(segment)
    except Unauthenticated:
        return None
    purpose = header.get("kid")
    return purpose if isinstance(purpose, str) and header.get("alg") == "HS256" else None


class TokenCodec:
    """Encodes and verifies HS256 JWTs; ``keys`` maps each purpose to its secret key."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self._keys = dict(keys)

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
            "jti": secrets.token_urlsafe(12),
        }
        header = {"alg": "HS256", "typ": "JWT", "kid": purpose}
        signing_input = f"{_json_segment(header)}.{_json_segment(payload)}"
        return f"{signing_input}.{self._sign(purpose, signing_input)}"

    def decode(
        self, token: str, *, purposes: Collection[str], now: datetime
    ) -> tuple[str, dict[str, Any]]:
        """The purpose and claims of a valid token. ``Unauthenticated`` when it is malformed,
        signed with another key, of a purpose not in ``purposes``, or expired at ``now``."""
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
            raise Unauthenticated("malformed token")
        parts = token.split(".")
        if len(parts) != 3 or not all(_SEGMENT.fullmatch(part) for part in parts):
            raise Unauthenticated("malformed token")
        header_segment, payload_segment, signature = parts
        header = _parse_segment(header_segment)
        if header.get("alg") != "HS256":
            raise Unauthenticated("unsupported token algorithm")
        purpose = header.get("kid")
        if not isinstance(purpose, str) or purpose not in self._keys:
            raise Unauthenticated("unknown token type")
        expected = self._sign(purpose, f"{header_segment}.{payload_segment}")
        # compare the encoded form: it rejects every alternative spelling of the same bytes
        if not hmac.compare_digest(signature.encode("ascii"), expected.encode("ascii")):
            raise Unauthenticated("invalid token signature")
        if purpose not in purposes:
            raise Unauthenticated(f"a {purpose} token is not accepted here")
        claims = _parse_segment(payload_segment)
        if claims.get("typ") != purpose:
            raise Unauthenticated("malformed token")
        expires = claims.get("exp")
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise Unauthenticated("malformed token")
        if now.timestamp() >= expires:
            raise Unauthenticated("token expired")
        return purpose, claims

    def _sign(self, purpose: str, signing_input: str) -> str:
        mac = hmac.digest(self._keys[purpose], signing_input.encode("ascii"), hashlib.sha256)
        return _b64encode(mac)
