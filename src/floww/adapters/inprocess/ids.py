"""Random ids for real use."""

from __future__ import annotations

import secrets

from floww.ports.support import IdGenerator

__all__ = ["RandomIds"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class RandomIds(IdGenerator):
    """``<prefix>_<20 random lower-case letters and digits>`` (about 103 bits), valid in
    registry repository names, URLs and file names alike."""

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(20))}"
