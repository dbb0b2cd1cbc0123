"""Who is calling: a bearer token is either one of the platform's own tokens (execution, dev
and registry tokens, whatever the identity provider) or a user's token that the identity
provider verifies."""

from __future__ import annotations

from floww.domain.errors import Unauthenticated
from floww.domain.model import Principal
from floww.ports.identity import Identity
from floww.ports.tokens import PlatformTokens

__all__ = ["authenticate"]


def authenticate(token: str, *, identity: Identity, tokens: PlatformTokens) -> Principal:
    """The principal of ``token``. ``Unauthenticated`` for a missing, malformed, forged,
    expired or revoked token."""
    if not token or not isinstance(token, str):
        raise Unauthenticated("no token given")
    platform = tokens.verify(token)
    return platform if platform is not None else identity.verify(token)
