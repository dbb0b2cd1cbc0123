"""``/api/config`` (what a client needs to know before logging in), ``/api/whoami`` and the
OpenAPI document."""

from __future__ import annotations

import importlib.metadata

from starlette.requests import Request
from starlette.responses import Response

from floww.codec import unstructure
from floww.domain.usecases.access import require_api_caller
from floww.entrypoints.http.codec import Doc, authenticate, ok, op, services
from floww.entrypoints.http.openapi import build_document

__all__ = ["ROUTES"]


def _version() -> str:
    try:
        return importlib.metadata.version("floww")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


async def get_config(request: Request) -> Response:
    base = services(request).deps.settings.base_url.rstrip("/")
    config = {
        "version": _version(),
        "runtime_target": unstructure(services(request).runtime_target),
        "auth": {
            "device_authorization_endpoint": f"{base}/api/auth/device",
            "token_endpoint": f"{base}/api/auth/token",
            "device_verification_uri": f"{base}/device",
        },
    }
    for key, value in services(request).public_config.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return ok(config)


async def whoami(request: Request) -> Response:
    principal = await authenticate(request)
    require_api_caller(principal)
    return ok(unstructure(principal))


async def openapi_document(request: Request) -> Response:
    return ok(build_document(request.app.routes))


_CONFIG = {
    "type": "object",
    "properties": {
        "version": {"type": "string"},
        "runtime_target": {"type": "object"},
        "auth": {"type": "object"},
    },
    "required": ["version", "runtime_target", "auth"],
}

ROUTES = [
    op("GET", "/api/config", get_config, Doc("Server configuration", response=_CONFIG, auth=False)),
    op("GET", "/api/whoami", whoami, Doc("The calling principal", response={"type": "object"})),
    op(
        "GET",
        "/api/openapi.json",
        openapi_document,
        Doc("This document", response={"type": "object"}, auth=False),
    ),
]
