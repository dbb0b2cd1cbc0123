"""Canonical JSON: one spelling per value, so equal inputs give equal identities."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from floww.domain.errors import InvalidInput

__all__ = ["canonical_json", "json_copy", "sha256_hex"]


def canonical_json(value: Any) -> str:
    """Serialise ``value`` with keys sorted at every depth and no insignificant whitespace.

    Raises ``TypeError`` or ``ValueError`` for values JSON cannot represent (NaN included).
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def json_copy(value: Any) -> Any:
    """``value`` as plain JSON (a deep copy); ``InvalidInput`` when it is not JSON."""
    try:
        return json.loads(canonical_json(value))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"value is not JSON: {exc}") from exc


def sha256_hex(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()
