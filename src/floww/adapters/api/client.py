"""A small JSON client for a floww server's HTTP API.

Every request goes to ``base_url`` with ``Authorization: Bearer <token>`` when a token is set.
The server's error body ``{"error": {"type", "message", ...}}`` is mapped back to the domain
error tree, once, here:

    400 -> InvalidInput              401 -> Unauthenticated      403 -> PermissionDenied
    404 -> NotFound                  409 -> Conflict             413 -> PayloadTooLarge
    422 -> UserCodeError (filename, lineno) or ProviderNotConfigured (missing)
    502 -> ExecutionFailed           504 -> DeadlineExceeded
    503, other 5xx, timeouts, refused connections -> Unavailable naming the URL

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
    ExecutionFailed,
    FlowwError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProviderNotConfigured,
    Unauthenticated,
    Unavailable,
    UserCodeError,
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
            raise Unavailable(
                f"{self.base_url} did not answer in time; is `floww serve` running?",
                url=self.base_url,
            ) from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                f"cannot reach {self.base_url}; is `floww serve` running?", url=self.base_url
            ) from exc
        if response.status_code >= 400:
            raise error_from_response(response, self.base_url)
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
    """The domain error a non-2xx answer stands for."""
    status = response.status_code
    doc = _error_doc(response)
    kind = str(doc.get("type") or "")
    message = str(doc.get("message") or f"HTTP {status} from {response.request.url}")
    if status == 404:
        key = doc.get("key")
        if isinstance(key, str) and isinstance(doc.get("kind"), str):
            return NotFound(str(doc["kind"]), key)
        error: FlowwError = NotFound("resource", response.request.url.path)
        error.message = message
        error.args = (message,)
        return error
    if status == 409:
        return Conflict(message)
    if status == 413:
        size, limit = doc.get("size"), doc.get("limit")
        if isinstance(size, int) and isinstance(limit, int):
            return PayloadTooLarge(size, limit)
        return InvalidInput(message)
    if status == 422:
        if kind == "ProviderNotConfigured" or "missing" in doc:
            missing = doc.get("missing") or []
            pairs = [(str(m[0]), str(m[1])) for m in missing if isinstance(m, list) and len(m) == 2]
            return ProviderNotConfigured(pairs)
        filename, lineno = doc.get("filename"), doc.get("lineno")
        reason = message
        if isinstance(filename, str) and reason.startswith(f"{filename}:"):
            reason = reason.split(": ", 1)[-1]
        return UserCodeError(
            reason,
            filename=filename if isinstance(filename, str) else None,
            lineno=lineno if isinstance(lineno, int) else None,
        )
    details = {k: v for k, v in doc.items() if k in ("field", "oauth_error")}
    if status == 400:
        return InvalidInput(message, **details)
    if status == 401:
        return Unauthenticated(message, **details)
    if status == 403:
        return PermissionDenied(message)
    if status == 502:
        return ExecutionFailed(message, error_type=str(doc.get("error_type") or "Exception"))
    if status == 504:
        return DeadlineExceeded(message)
    if status >= 500:
        where = base_url or str(response.request.url)
        return Unavailable(f"{where} answered {status}: {message}", url=where)
    return InvalidInput(message)
