"""The Starlette app factory: the JSON API under ``/api``, webhook ingress under
``/webhook``, the device approval page, and whatever extra routes the composition root mounts
(the registry at ``/v2/``, the realtime websocket).

Routes parse, call a use case in a worker thread (use cases are synchronous and may block),
and render. Errors map to statuses once, in ``errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from floww.domain.model import Principal, ProviderField, RuntimeTarget
from floww.domain.usecases.deps import ServerDeps
from floww.entrypoints.http import errors, pages, webhooks
from floww.entrypoints.http.api import (
    accounts,
    api_keys,
    config,
    deployments,
    dev,
    execution_control,
    executions,
    kv,
    login,
    namespaces,
    providers,
    registry_credentials,
    reports,
    runtimes,
)
from floww.entrypoints.http.api import code as code_api
from floww.entrypoints.http.limits import EdgeGuard
from floww.ports.identity import TokenSet
from floww.ports.image_registry import ImageRegistry

__all__ = ["HttpServices", "api_routes", "create_app"]


@attrs.frozen
class HttpServices:
    """What the HTTP edge needs from the composition root.

    ``provider_types`` lists every provider type with its setup fields; ``fields_for`` gives
    one type's fields (``NotFound`` for an unknown type). ``public_config`` is merged into
    ``/api/config`` (realtime URL, registry host, extra auth endpoints). ``password_login``
    checks an email and password for the device approval page (``Unauthenticated`` when wrong);
    without it the page only points at the identity provider. ``registry`` issues the push
    credentials of ``/api/namespaces/{id}/registry-credentials`` (503 without one);
    ``refresh_tokens`` serves the ``refresh_token`` grant of ``/api/auth/token``
    (``Unauthenticated`` for a refused refresh token; the grant is unsupported without it).
    ``guard`` rate-limits device-login starts and password sign-ins (no limits without one).
    ``webhooks_on_loop`` runs calls to active deployments on the event loop (their lanes
    claimed there, the function host's ``invoke_async`` awaited): for a database written in
    process (SQLite), whose writes the loop can make itself.
    """

    deps: ServerDeps
    provider_types: Callable[[], dict[str, tuple[ProviderField, ...]]]
    fields_for: Callable[[str], tuple[ProviderField, ...]]
    runtime_target: RuntimeTarget
    public_config: dict[str, Any] = attrs.field(factory=dict)
    password_login: Callable[[str, str], Principal] | None = None
    extra_routes: Sequence[BaseRoute] = ()
    registry: ImageRegistry | None = None
    refresh_tokens: Callable[[str], TokenSet] | None = None
    guard: EdgeGuard | None = None
    webhooks_on_loop: bool = False


def api_routes() -> list[BaseRoute]:
    """Every route this package defines (without the extra ones)."""
    return [
        # Webhooks first: the router tries routes in order, and webhook calls are most of the
        # traffic (no other route's pattern can match /webhook/...).
        *webhooks.ROUTES,
        *config.ROUTES,
        *login.ROUTES,
        *namespaces.ROUTES,
        *providers.ROUTES,
        *runtimes.ROUTES,
        *registry_credentials.ROUTES,
        *api_keys.ROUTES,
        *accounts.ROUTES,
        *deployments.ROUTES,
        *code_api.ROUTES,
        *executions.ROUTES,
        *execution_control.ROUTES,
        *reports.ROUTES,
        *kv.ROUTES,
        *dev.ROUTES,
        *pages.ROUTES,
    ]


def create_app(services: HttpServices) -> Starlette:
    app = Starlette(
        routes=[*api_routes(), *services.extra_routes],
        # inside the catch-all (and any middleware added later, metrics): webhook calls
        # skip only the router and the exception layer
        middleware=[Middleware(errors.CatchAllMiddleware), Middleware(webhooks.WebhookFirst)],
        exception_handlers=dict(errors.EXCEPTION_HANDLERS),
    )
    app.state.services = services
    app.state.form_tokens = pages.FormTokens()
    return app
