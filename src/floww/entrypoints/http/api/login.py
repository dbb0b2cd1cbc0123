"""RFC 8628 device authorization for the CLI: start a device login, then poll for tokens;
and the ``refresh_token`` grant (RFC 6749 6) when the server can refresh tokens.

Both endpoints take a form-encoded body (as the RFC says) or a JSON object. Token errors use
the RFC's own shape, ``{"error": "authorization_pending" | ...}`` with status 400.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from floww.domain.errors import (
    DeviceAuthorizationPending,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from floww.entrypoints.http.codec import Doc, op, read_body, services
from floww.ports.identity import TokenSet

__all__ = ["DEVICE_GRANT", "REFRESH_GRANT", "ROUTES"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_GRANT = "refresh_token"
_FORM_LIMIT = 16_384


async def _form(request: Request) -> dict[str, Any]:
    raw = await read_body(request, _FORM_LIMIT)
    if "json" in request.headers.get("content-type", ""):
        try:
            doc = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            raise InvalidInput("request body is not JSON") from None
        if not isinstance(doc, dict):
            raise InvalidInput("request body must be a JSON object")
        return doc
    try:
        return dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise InvalidInput("request body is not UTF-8") from None


def _oauth_error(code: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": code, "error_description": description},
        400,
        headers={"Cache-Control": "no-store"},
    )


async def start_device(request: Request) -> Response:
    guard = services(request).guard
    if guard is not None:
        guard.admit_device_start(request)
    form = await _form(request)
    client_id = form.get("client_id") or "floww-cli"
    if not isinstance(client_id, str):
        raise InvalidInput("field 'client_id' must be a string", field="client_id")
    started = await run_in_threadpool(services(request).deps.identity.start_device, client_id)
    return JSONResponse(
        {
            "device_code": started.device_code,
            "user_code": started.user_code,
            "verification_uri": started.verification_uri,
            "verification_uri_complete": started.verification_uri_complete,
            "expires_in": started.expires_in,
            "interval": started.interval,
        },
        headers={"Cache-Control": "no-store"},
    )


async def _refresh(request: Request, form: dict[str, Any]) -> Response:
    refresh = services(request).refresh_tokens
    if refresh is None:
        return _oauth_error("unsupported_grant_type", "this server does not refresh tokens")
    refresh_token = form.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        return _oauth_error("invalid_request", "refresh_token is required")
    try:
        tokens = await run_in_threadpool(refresh, refresh_token)
    except Unauthenticated as exc:
        return _oauth_error("invalid_grant", exc.message)
    return _token_response(tokens)


def _token_response(tokens: TokenSet) -> Response:
    body: dict[str, Any] = {
        "access_token": tokens.access_token,
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in,
    }
    if tokens.refresh_token:
        body["refresh_token"] = tokens.refresh_token
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def token(request: Request) -> Response:
    form = await _form(request)
    if form.get("grant_type") == REFRESH_GRANT:
        return await _refresh(request, form)
    if form.get("grant_type") != DEVICE_GRANT:
        return _oauth_error(
            "unsupported_grant_type", f"grant_type must be {DEVICE_GRANT} or {REFRESH_GRANT}"
        )
    device_code = form.get("device_code")
    if not isinstance(device_code, str) or not device_code:
        return _oauth_error("invalid_request", "device_code is required")
    try:
        tokens = await run_in_threadpool(services(request).deps.identity.poll_device, device_code)
    except DeviceAuthorizationPending as exc:
        return _oauth_error(exc.code, exc.message)
    except NotFound:
        return _oauth_error("invalid_grant", "unknown device code")
    return _token_response(tokens)


_FORM_DEVICE = {"type": "object", "properties": {"client_id": {"type": "string"}}}
_DEVICE = {
    "type": "object",
    "required": ["device_code", "user_code", "verification_uri", "expires_in", "interval"],
    "properties": {
        k: {"type": "string"}
        for k in ("device_code", "user_code", "verification_uri", "verification_uri_complete")
    }
    | {"expires_in": {"type": "integer"}, "interval": {"type": "integer"}},
}
_TOKEN_REQUEST = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"enum": [DEVICE_GRANT, REFRESH_GRANT]},
        "device_code": {"type": "string"},
        "refresh_token": {"type": "string"},
    },
}
_TOKENS = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string"},
        "expires_in": {"type": "integer"},
        "refresh_token": {"type": "string"},
    },
}

ROUTES = [
    op(
        "POST",
        "/api/auth/device",
        start_device,
        Doc("Start a device login (RFC 8628)", _FORM_DEVICE, _DEVICE, auth=False, tag="auth"),
    ),
    op(
        "POST",
        "/api/auth/token",
        token,
        Doc(
            "Poll a device login for tokens, or refresh them",
            _TOKEN_REQUEST,
            _TOKENS,
            auth=False,
            tag="auth",
        ),
    ),
]
