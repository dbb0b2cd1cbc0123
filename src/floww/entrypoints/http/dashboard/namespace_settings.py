"""A namespace's providers (set up with hidden secret input; secrets never sent back) and the
signed-in person's API keys (a new key is shown once)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from floww.domain.errors import FlowwError
from floww.domain.model import ProviderRef
from floww.domain.usecases import api_keys, providers, queries
from floww.entrypoints.http.codec import services
from floww.entrypoints.http.dashboard import views
from floww.entrypoints.http.dashboard.pages import NOTICES, Ctx, page, see
from floww.entrypoints.http.errors import status_for

__all__ = ["key_create", "key_list", "key_revoke", "provider_list", "provider_new", "provider_save"]


async def provider_list(request: Request, ctx: Ctx, note: str = "", status: int = 200) -> Response:
    ns_id = request.path_params["namespace_id"]
    svc = services(request)
    note = note or NOTICES.get(request.query_params.get("done", ""), "")

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        found = queries.list_providers(ctx.deps, ctx.principal, ns_id, svc.fields_for)
        # Types whose fields only their code declares (``secret``, ``builtin``) are set up by code.
        types = sorted(name for name, fields in svc.provider_types().items() if fields)
        return views.providers_page(ns, found, types, ctx.csrf, note)

    return page(await run_in_threadpool(read), status)


async def provider_new(request: Request, ctx: Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]
    type_ = request.query_params.get("type", "")
    alias = request.query_params.get("alias", "") or "default"
    svc = services(request)

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        return views.provider_form_page(ns, type_, alias, svc.fields_for(type_), ctx.csrf)

    return page(await run_in_threadpool(read))


async def provider_save(request: Request, ctx: Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]
    form: dict[str, str] = request.state.form
    type_, alias = form.get("type", ""), form.get("alias", "") or "default"
    config = {k.removeprefix("field."): v for k, v in form.items() if k.startswith("field.")}
    svc = services(request)

    def save() -> None:
        providers.setup_provider(
            ctx.deps,
            ctx.principal,
            namespace_id=ns_id,
            ref=ProviderRef(type_, alias),
            fields=svc.fields_for(type_),
            config=config,
        )

    try:
        await run_in_threadpool(save)
    except FlowwError as exc:
        problem, status = exc.message, status_for(exc)
    else:
        return see(f"/ui/namespaces/{ns_id}/providers?done=saved")

    # The form again, empty: what was typed (secrets included) is never sent back.
    def again() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        fields = svc.fields_for(type_)
        return views.provider_form_page(ns, type_, alias, fields, ctx.csrf, problem)

    return page(await run_in_threadpool(again), status)


async def key_list(request: Request, ctx: Ctx, created: str = "", status: int = 200) -> Response:
    ns_id = request.path_params["namespace_id"]

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        keys = api_keys.list_api_keys(ctx.deps, ctx.principal, ns_id)
        return views.api_keys_page(ns, keys, ctx.csrf, created)

    return page(await run_in_threadpool(read), status)


async def key_create(request: Request, ctx: Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]
    name = request.state.form.get("name", "")
    plaintext, _ = await run_in_threadpool(
        api_keys.create_api_key, ctx.deps, ctx.principal, ns_id, name
    )
    return await key_list(request, ctx, created=plaintext, status=201)


async def key_revoke(request: Request, ctx: Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]
    await run_in_threadpool(
        api_keys.revoke_api_key, ctx.deps, ctx.principal, ns_id, request.path_params["key_id"]
    )
    return see(f"/ui/namespaces/{ns_id}/api-keys")
