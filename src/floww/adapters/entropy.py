"""Random bytes from the system's source, drawn a block at a time.

Every webhook call takes an execution id and a token id. ``os.urandom`` is one system call
each, and it lets go of the interpreter lock around it: under load each such call cost two
thread switches. Here the bytes come from a block of ``BLOCK`` read from ``os.urandom`` at
once and handed out in order, each byte once; the quality is the system source's own. A
forked child starts with an empty block (it never hands out its parent's bytes).
"""

from __future__ import annotations

import os
import threading

__all__ = ["random_bytes"]

BLOCK = 4096
"""Bytes read from the system at a time."""

_lock = threading.Lock()
_block = b""
_used = 0


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the system's cryptographic random source."""
    global _block, _used
    if n > BLOCK:
        return os.urandom(n)
    with _lock:
        if _used + n > len(_block):
            _block, _used = os.urandom(BLOCK), 0
        start = _used
        _used += n
        return _block[start : start + n]


def _forget() -> None:
    """In a forked child: the parent's block is the parent's."""
    global _block, _used, _lock
    _lock = threading.Lock()
    _block, _used = b"", 0


os.register_at_fork(after_in_child=_forget)
