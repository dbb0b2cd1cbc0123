"""Id generators: random ones for real use, sequential ones for readable tests."""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict

from floww.ports.support import IdGenerator

__all__ = ["RandomIds", "SequentialIds"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class RandomIds(IdGenerator):
    """``<prefix>_<20 random lower-case letters and digits>`` (about 103 bits), valid in
    registry repository names, URLs and file names alike."""

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(20))}"


class SequentialIds(IdGenerator):
    """``<prefix>_000001``, ``<prefix>_000002``, ... counted per prefix, so ids sort by age."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: defaultdict[str, int] = defaultdict(int)

    def new_id(self, prefix: str) -> str:
        with self._lock:
            self._counters[prefix] += 1
            return f"{prefix}_{self._counters[prefix]:06d}"
