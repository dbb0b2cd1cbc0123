"""Canonical JSON: one spelling per value, so equal inputs give equal identities."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "sha256_hex"]


def canonical_json(value: Any) -> str:
    """Serialise ``value`` with keys sorted at every depth and no insignificant whitespace.

    Raises ``TypeError`` or ``ValueError`` for values JSON cannot represent (NaN included).
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()
