"""``Response``: what a webhook handler returns to choose status and headers, and the wire form
of every handler result."""

from __future__ import annotations

import json
from typing import Any

import attrs

__all__ = ["RESPONSE_KEY", "Response", "result_to_wire"]

RESPONSE_KEY = "$response"


def _headers(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


@attrs.frozen
class Response:
    """An HTTP response. ``body`` is any JSON value or a string."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = attrs.field(factory=dict, converter=_headers)

    def to_wire(self) -> dict[str, Any]:
        return {
            RESPONSE_KEY: {"status": self.status, "headers": dict(self.headers), "body": self.body}
        }

    @classmethod
    def from_wire(cls, result: Any) -> Response | None:
        """The ``Response`` a wire result stands for, or ``None`` when it is a plain value."""
        if not (isinstance(result, dict) and set(result) == {RESPONSE_KEY}):
            return None
        inner = result[RESPONSE_KEY]
        return cls(
            body=inner.get("body"), status=int(inner["status"]), headers=inner.get("headers")
        )


def result_to_wire(value: Any, handler_name: str) -> Any:
    """The wire form of a handler's return value.

    A ``Response`` becomes ``{"$response": ...}``; anything else passes through unchanged. Raises
    ``TypeError`` naming the handler when the value cannot travel as JSON.
    """
    if isinstance(value, Response):
        if isinstance(value.status, bool) or not isinstance(value.status, int):
            raise TypeError(f"handler {handler_name} returned a Response with a non-integer status")
        if not 100 <= value.status <= 599:
            raise TypeError(
                f"handler {handler_name} returned a Response with status {value.status}"
            )
        wire = value.to_wire()
        _check_json(wire, handler_name, "the body of its Response")
        return wire
    _check_json(value, handler_name, "a value")
    return value


def _check_json(value: Any, handler_name: str, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"handler {handler_name} returned {what} that is not JSON-serialisable"
            f" ({type(value).__name__}): {exc}"
        ) from None
