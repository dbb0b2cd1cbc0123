"""Random ids for real use."""

from __future__ import annotations

from floww.adapters.entropy import random_bytes
from floww.ports.support import IdGenerator

__all__ = ["RandomIds"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32, lower-cased
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
"""Two base32 digits for each 10-bit value: the standard library's base32 encoder is written
in Python, and slower than this table by a few microseconds per id."""
_SHIFTS = tuple(range(90, -1, -10))


class RandomIds(IdGenerator):
    """``<prefix>_<20 random lower-case letters and digits>`` (100 bits: base32 of 13 random
    bytes, lower-cased), valid in registry repository names, URLs and file names alike. One
    call to the system's random source per id (every execution takes one)."""

    def new_id(self, prefix: str) -> str:
        bits = int.from_bytes(random_bytes(13), "big") >> 4  # the first 100 bits
        return prefix + "_" + "".join([_PAIRS[(bits >> shift) & 1023] for shift in _SHIFTS])
