"""Random ids for real use."""

from __future__ import annotations

import base64
import secrets

from floww.ports.support import IdGenerator

__all__ = ["RandomIds"]


class RandomIds(IdGenerator):
    """``<prefix>_<20 random lower-case letters and digits>`` (100 bits: base32 of 13 random
    bytes, lower-cased), valid in registry repository names, URLs and file names alike. One
    call to the system's random source per id (every execution takes one)."""

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{base64.b32encode(secrets.token_bytes(13)).decode('ascii')[:20].lower()}"
