"""A small JSON client for a floww server's HTTP API.

Every request goes to ``base_url`` with ``Authorization: Bearer <token>`` when a token is set.
The server's error body ``{"error": {"type", "message", ...}}`` is mapped back to the domain
error tree, once, here: ``type`` names the class (``floww.domain.errors.error_class_for``) and
the other fields are its details. An answer that names no floww error (an OAuth error code, a
proxy's page) is mapped by status: 401 Unauthenticated, 403 PermissionDenied, 404 NotFound,
409 Conflict, other 4xx InvalidInput, 5xx Unavailable. 5xx answers, timeouts and refused
connections give ``Unavailable`` naming the URL, except the server's own ``ExecutionFailed``
(502) and ``DeadlineExceeded`` (504).

``token`` may be a callable, asked before each request, so a caller can refresh credentials
between requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from floww.domain.errors import (
    Conflict,
    DeadlineExceeded,
    DeviceAuthorizationPending,
    ExecutionFailed,
    FlowwError,
    InvalidInput,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    PermissionDenied,
    ProviderNotConfigured,
    Unauthenticated,
    Unavailable,
    UserCodeError,
    error_class_for,
)

__all__ = ["ApiClient", "error_from_response"]

TokenSource = str | Callable[[], str | None] | None


class ApiClient:
    def __init__(self, base_url: str, *, http: httpx.Client, token: TokenSource = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http
        self._token = token

    @property
    def token(self) -> str | None:
        return self._token() if callable(self._token) else self._token

    def url(self, path: str) -> str:
        """``path`` under the base URL; an absolute URL is used as it is."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str | int] | None = None,
        form: Mapping[str, str] | None = None,
        auth: bool = True,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request; the response when it is 2xx, a domain error otherwise."""
        headers = {"Accept": "application/json"}
        token = self.token if auth else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        # An absolute URL elsewhere (an identity provider's endpoint) is named as itself.
        where, hint = self.base_url, "is `floww serve` running?"
        if not self.url(path).startswith(self.base_url):
            where, hint = str(httpx.URL(self.url(path)).copy_with(query=None)), "try again later"
        try:
            response = self._http.request(
                method,
                self.url(path),
                json=json_body,
                data=dict(form) if form is not None else None,
                params=dict(params) if params else None,
                headers=headers,
                **extra,
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(f"{where} did not answer in time; {hint}", url=where) from exc
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach {where}; {hint}", url=where) from exc
        if response.status_code >= 400:
            raise error_from_response(response, where)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return _json(self.request("GET", path, **kwargs))

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return _json(self.request("POST", path, json_body=body, **kwargs))

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return _json(self.request("PUT", path, json_body=body, **kwargs))

    def delete(self, path: str, **kwargs: Any) -> Any:
        return _json(self.request("DELETE", path, **kwargs))


def _json(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise Unavailable(
            f"{response.request.url} answered with something that is not JSON",
            url=str(response.request.url),
        ) from exc


def _error_doc(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return {}
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return error
        if isinstance(error, str):  # OAuth-style {"error": "code", "error_description"}
            description = str(body.get("error_description") or error.replace("_", " "))
            return {"type": error, "message": description, "oauth_error": error}
    return {}


def error_from_response(response: httpx.Response, base_url: str = "") -> FlowwError:
    """The domain error a non-2xx answer stands for: the class its ``type`` names, else the
    one its status suggests."""
    status = response.status_code
    doc = _error_doc(response)
    message = str(doc.get("message") or f"HTTP {status} from {response.request.url}")
    cls = error_class_for(str(doc.get("type") or ""))
    if status >= 500 and cls not in (ExecutionFailed, DeadlineExceeded, Overloaded):
        where = base_url or str(response.request.url)
        return Unavailable(f"{where} answered {status}: {message}", url=where)
    try:
        return _rebuild(cls or _by_status(status), message, doc, response)
    except (KeyError, TypeError, ValueError):  # a name without the fields its class needs
        return _by_status(status)(message)


def _by_status(status: int) -> type[FlowwError]:
    """For a 4xx answer whose type is no floww error (an OAuth error code, a proxy's page)."""
    return {401: Unauthenticated, 403: PermissionDenied, 404: NotFound, 409: Conflict}.get(
        status, InvalidInput
    )


def _rebuild(
    cls: type[FlowwError], message: str, doc: dict[str, Any], response: httpx.Response
) -> FlowwError:
    """``cls`` again, with the structured fields the server sent; ``KeyError`` / ``TypeError``
    when they are missing or malformed."""
    details = {k: v for k, v in doc.items() if k not in ("type", "message")}
    if cls is NotFound:
        if isinstance(doc.get("kind"), str) and isinstance(doc.get("key"), str):
            return NotFound(doc["kind"], doc["key"])
        error: FlowwError = NotFound("resource", response.request.url.path)
        error.message = message
        error.args = (message,)
        return error
    if cls is PayloadTooLarge:
        return PayloadTooLarge(_int(doc["size"]), _int(doc["limit"]))
    if cls is UserCodeError:
        filename, lineno = doc.get("filename"), doc.get("lineno")
        reason = message
        if isinstance(filename, str) and reason.startswith(f"{filename}:"):
            reason = reason.split(": ", 1)[-1]
        return UserCodeError(
            reason,
            filename=filename if isinstance(filename, str) else None,
            lineno=lineno if isinstance(lineno, int) else None,
        )
    if cls is ProviderNotConfigured:
        missing = doc.get("missing") or []
        pairs = [(str(m[0]), str(m[1])) for m in missing if isinstance(m, list) and len(m) == 2]
        return ProviderNotConfigured(pairs)
    if cls is ExecutionFailed:
        return ExecutionFailed(message, error_type=str(doc.get("error_type") or "Exception"))
    if cls is DeviceAuthorizationPending:
        return DeviceAuthorizationPending(str(doc["code"]), message)
    return cls(message, **details)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, not {value!r}")
    return value
