"""The one error tree of floww.

Every failure a caller can act on is one of these. Adapters translate vendor exceptions into
them (``raise NotFound(...) from exc``); the edges map them once to HTTP statuses and exit codes.

    FlowwError
    ├── NotFound                 a named thing does not exist (or is not visible to the caller)
    ├── Conflict                 it exists already / the state forbids the change
    ├── InvalidInput             the request itself is wrong
    │   ├── PayloadTooLarge      a request body is over the size limit
    │   └── UserCodeError        the user's module failed to load or declared something invalid
    ├── Unauthenticated          no valid credentials
    ├── PermissionDenied         valid credentials, but not for this
    ├── ProviderNotConfigured    userspace uses a provider the namespace has no credentials for
    ├── Unavailable              a dependency (database, registry, host) cannot be reached now
    ├── RateLimited              too many attempts from this client or on this account; wait
    │   └── Overloaded           a queue is full: retry after ``retry_after_s`` seconds
    ├── DeadlineExceeded         the work did not finish in time
    ├── ExecutionFailed          the user's handler raised
    └── DeviceAuthorizationPending  a device login is not granted (yet)

On the wire (the HTTP API's error bodies, a runtime's answer) an error is named by
``error_type_name``; ``error_class_for`` reads the name back. The structured fields of an error
travel as its ``details``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "Conflict",
    "DeadlineExceeded",
    "DeviceAuthorizationPending",
    "ExecutionFailed",
    "FlowwError",
    "InvalidInput",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderNotConfigured",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
    "UserCodeError",
    "error_class_for",
    "error_type_name",
]


class FlowwError(Exception):
    """Root of every error floww raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class NotFound(FlowwError):
    """The named thing does not exist, or the caller may not know that it does."""

    def __init__(self, kind: str, key: object, hint: str | None = None) -> None:
        message = f"{kind} {key!s} not found" + (f": {hint}" if hint else "")
        super().__init__(message, kind=kind, key=str(key))
        self.kind = kind
        self.key = key


class Conflict(FlowwError):
    """The change contradicts what exists already."""


class InvalidInput(FlowwError):
    """The request is malformed or breaks a rule."""


class PayloadTooLarge(InvalidInput):
    """The request body is larger than the limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"request body of {size} bytes exceeds the limit of {limit} bytes",
            size=size,
            limit=limit,
        )
        self.size = size
        self.limit = limit


class UserCodeError(InvalidInput):
    """The user's module could not be loaded, or what it declares is invalid.

    ``filename`` and ``lineno`` point at the offending line in the user's code when known.
    """

    def __init__(
        self,
        message: str,
        *,
        filename: str | None = None,
        lineno: int | None = None,
        traceback: str | None = None,
    ) -> None:
        where = (
            f"{filename}:{lineno}: "
            if filename and lineno
            else (f"{filename}: " if filename else "")
        )
        super().__init__(f"{where}{message}", filename=filename, lineno=lineno)
        self.reason = message
        self.filename = filename
        self.lineno = lineno
        self.traceback = traceback


class Unauthenticated(FlowwError):
    """Credentials are missing, malformed, expired or forged."""


class PermissionDenied(FlowwError):
    """The principal is known but may not do this."""


class ProviderNotConfigured(FlowwError):
    """The user's code uses providers that the namespace has no credentials for."""

    def __init__(self, missing: Sequence[tuple[str, str]]) -> None:
        names = ", ".join(f"{t}:{a}" for t, a in missing)
        super().__init__(f"providers not configured: {names}", missing=[list(m) for m in missing])
        self.missing = tuple(missing)


class Unavailable(FlowwError):
    """A dependency cannot be reached right now; retrying later may succeed."""


class RateLimited(FlowwError):
    """Too many attempts: the caller may try again after ``retry_after_s`` seconds."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, retry_after_s=round(retry_after_s, 3))
        self.retry_after_s = retry_after_s


class Overloaded(Unavailable):
    """Too much work is waiting already; nothing was accepted. Retry after ``retry_after_s``."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


class DeadlineExceeded(FlowwError):
    """The work did not finish before its deadline."""


class ExecutionFailed(FlowwError):
    """The user's handler raised; ``error_type`` and ``traceback`` describe it."""

    def __init__(self, message: str, *, error_type: str = "Exception", traceback: str = "") -> None:
        super().__init__(message, error_type=error_type)
        self.error_type = error_type
        self.traceback = traceback


class DeviceAuthorizationPending(FlowwError):
    """The device authorization is not (yet) granted. ``code`` is the RFC 8628 error code:
    ``authorization_pending``, ``slow_down``, ``expired_token`` or ``access_denied``."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code.replace("_", " "), code=code)
        self.code = code


def error_type_name(error: FlowwError | type[FlowwError]) -> str:
    """The name an error travels under: its class name (``NotFound``, ``UserCodeError``)."""
    cls = error if isinstance(error, type) else type(error)
    return cls.__name__


def error_class_for(name: str) -> type[FlowwError] | None:
    """The error class of the tree above named ``name`` on the wire; ``None`` for a name that
    is not one of them (an OAuth error code, a proxy's answer)."""
    todo: list[type[FlowwError]] = [FlowwError]
    while todo:
        cls = todo.pop()
        if cls.__module__ == __name__ and cls.__name__ == name:
            return cls
        todo.extend(cls.__subclasses__())
    return None
