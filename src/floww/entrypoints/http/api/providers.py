"""Provider types and their setup fields; a namespace's providers (listed with secrets
redacted), set up, removed; and the full configs a dev session runs with."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from floww.codec import unstructure
from floww.domain.errors import InvalidInput
from floww.domain.model import ProviderField, ProviderRef
from floww.domain.providers import CATALOGUE
from floww.domain.usecases import providers, queries
from floww.entrypoints.http.codec import (
    Doc,
    authenticate,
    call,
    field,
    json_object,
    ok,
    op,
    read_json,
    run_as,
    services,
)
from floww.entrypoints.http.openapi import items_of, ref

__all__ = ["ROUTES"]


def _ref(request: Request) -> ProviderRef:
    type_, alias = request.path_params["provider_type"], request.path_params["alias"]
    if not type_ or not alias:
        raise InvalidInput("provider type and alias must not be empty")
    return ProviderRef(type_, alias)


async def list_provider_types(request: Request) -> Response:
    await authenticate(request)
    types = await run_in_threadpool(services(request).provider_types)
    items = [_type_doc(name, f) for name, f in sorted(types.items())]
    return ok({"items": items})


def _type_doc(name: str, fields: tuple[ProviderField, ...]) -> dict[str, Any]:
    """A provider type as the catalogue describes it: its setup fields, what it triggers on
    (with the filters each trigger takes) and the actions its SDK class offers."""
    rules = CATALOGUE.get(name)
    return {
        "type": name,
        "title": rules.title if rules is not None else name,
        "fields": unstructure(list(fields)),
        "triggers": [
            {"name": t.name, "description": t.description, "filters": list(t.filters)}
            for t in (rules.triggers if rules is not None else ())
        ],
        "actions": list(rules.actions) if rules is not None else [],
        "verifies_deliveries": rules is not None and rules.verify is not None,
    }


async def get_provider_type(request: Request) -> Response:
    await authenticate(request)
    name = request.path_params["provider_type"]
    fields = await run_in_threadpool(services(request).fields_for, name)
    return ok(_type_doc(name, fields))


async def list_providers(request: Request) -> Response:
    found = await call(
        request,
        queries.list_providers,
        request.path_params["namespace_id"],
        services(request).fields_for,
    )
    return ok({"items": unstructure(found)})


async def put_provider(request: Request) -> Response:
    principal = await authenticate(request)
    config = field(json_object(await read_json(request)), "config", dict)
    provider_ref = _ref(request)
    svc = services(request)

    def setup() -> dict[str, Any]:
        fields = svc.fields_for(provider_ref.type)
        stored = providers.setup_provider(
            svc.deps,
            principal,
            namespace_id=request.path_params["namespace_id"],
            ref=provider_ref,
            fields=fields,
            config=config,
        )
        shown = providers.redact(stored, fields)
        return {"id": stored.id, "type": stored.type, "alias": stored.alias, "config": shown}

    return ok(await run_in_threadpool(setup))


async def delete_provider(request: Request) -> Response:
    principal = await authenticate(request)
    await run_as(
        request,
        principal,
        providers.remove_provider,
        namespace_id=request.path_params["namespace_id"],
        ref=_ref(request),
    )
    return Response(status_code=204)


async def provider_configs(request: Request) -> Response:
    configs = await call(
        request,
        queries.provider_configs,
        request.path_params["namespace_id"],
        services(request).fields_for,
    )
    return ok({"providers": configs})


_ONE = "/api/namespaces/{namespace_id}/providers/{provider_type}/{alias}"
_CONFIG = {
    "type": "object",
    "required": ["config"],
    "properties": {"config": {"type": "object", "additionalProperties": {"type": "string"}}},
}
_CONFIGS = {
    "type": "object",
    "properties": {"providers": {"type": "object", "additionalProperties": {"type": "object"}}},
}

ROUTES = [
    op(
        "GET",
        "/api/provider-types",
        list_provider_types,
        Doc("Provider types and their setup fields", None, items_of("ProviderType")),
    ),
    op(
        "GET",
        "/api/provider-types/{provider_type}",
        get_provider_type,
        Doc("One provider type's setup fields", None, "ProviderType"),
    ),
    op(
        "GET",
        "/api/namespaces/{namespace_id}/providers",
        list_providers,
        Doc("The namespace's providers, secrets redacted", None, items_of("Provider")),
    ),
    op("PUT", _ONE, put_provider, Doc("Create or replace a provider", _CONFIG, ref("Provider"))),
    op("DELETE", _ONE, delete_provider, Doc("Remove a provider", status=204)),
    op(
        "GET",
        "/api/namespaces/{namespace_id}/provider-configs",
        provider_configs,
        Doc(
            "Provider configs keyed type:alias; secret fields only for owners and full keys",
            None,
            _CONFIGS,
        ),
    ),
]
