"""The dashboard's routes under ``/ui`` (and ``/``, which leads there). A route parses, calls
the same use cases as the API (so the same access rules decide), and renders a page.

A request without a valid session goes to the sign-in page; a domain error becomes a page
with the API's status and the error's message; a POST without its session's form token, or
from another origin, is refused with 403 before anything runs.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable
from importlib import resources

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from floww.domain.errors import FlowwError, RateLimited, Unauthenticated
from floww.domain.model import Principal, ProviderRef
from floww.domain.usecases import (
    api_keys,
    deployments,
    execution_control,
    providers,
    queries,
    workflows,
)
from floww.domain.usecases.authentication import authenticate
from floww.domain.usecases.deps import ServerDeps
from floww.entrypoints.http.codec import read_body, services
from floww.entrypoints.http.dashboard import session, views
from floww.entrypoints.http.dashboard.signin import BrowserSignIn
from floww.entrypoints.http.errors import retry_after, status_for

__all__ = ["dashboard_routes"]

_FORM_LIMIT = 65_536
_LIVE_ROWS = 50
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}
_STATIC = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_NOTICES = {"rolled-back": "The deployment is active again.", "saved": "The provider is saved."}


@attrs.frozen
class _Ctx:
    deps: ServerDeps
    principal: Principal
    csrf: str


View = Callable[[Request, _Ctx], Awaitable[Response]]


def _html(document: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(document, status, headers=_HEADERS)


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, 303, headers={"Cache-Control": "no-store"})


async def _form(request: Request) -> dict[str, str]:
    raw = await read_body(request, _FORM_LIMIT)
    try:
        return dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def _view(view: View, *, post: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Signed-in pages: the session is checked (sign-in page otherwise), POSTs need the
    session's form token and this origin, domain errors become pages."""

    async def endpoint(request: Request) -> Response:
        deps = services(request).deps
        token = session.session_token(request)
        try:
            if token is None:
                raise Unauthenticated("no session")
            principal = await run_in_threadpool(
                lambda: authenticate(token, identity=deps.identity, tokens=deps.tokens)
            )
            if principal.kind != "user":
                raise Unauthenticated("the dashboard is for people")
        except Unauthenticated:
            return _see("/ui/signin")
        ctx = _Ctx(deps, principal, session.csrf_token(token))
        if post:
            form = await _form(request)
            if not session.same_origin(request) or not session.valid_csrf(
                token, form.get("csrf", "")
            ):
                text = "The form expired or came from another site; reload the page and try again."
                return _html(views.message_page("Refused", text, ctx.csrf), 403)
            request.state.form = form
        try:
            return await view(request, ctx)
        except FlowwError as exc:
            return _html(
                views.message_page("Something went wrong", exc.message, ctx.csrf), status_for(exc)
            )

    return endpoint


def _secure(request: Request) -> bool:
    return services(request).deps.settings.base_url.startswith("https://")


# sign-in ------------------------------------------------------------------------------------


def _signin_routes(sign_in: BrowserSignIn) -> list[BaseRoute]:
    async def show(request: Request) -> Response:
        return _html(views.signin_page(start_url=sign_in.start_url))

    async def submit(request: Request) -> Response:
        if not session.same_origin(request):
            return _html(views.signin_page("That form came from another site."), 403)
        form = await _form(request)
        email, guard = form.get("email", ""), services(request).guard
        try:
            if guard is not None:
                guard.admit_login(request, email)
            token = await run_in_threadpool(sign_in.sign_in, email, form.get("password", ""))
        except RateLimited as exc:
            page = _html(views.signin_page("Too many failed sign-ins: wait, then try again."), 429)
            page.headers["Retry-After"] = retry_after(exc)
            return page
        except Unauthenticated:
            return _html(views.signin_page("Wrong email or password."), 401)
        except FlowwError as exc:
            return _html(views.signin_page(exc.message), status_for(exc))
        if guard is not None:
            guard.login_succeeded(request, email)
        answer = _see("/ui/")
        session.set_session(answer, token, secure=_secure(request), max_age=8 * 3600)
        return answer

    async def signout(request: Request, ctx: _Ctx) -> Response:
        answer = _see("/ui/signin")
        session.clear_session(answer, secure=_secure(request))
        return answer

    return [
        Route("/ui/signin", show, methods=["GET"]),
        Route("/ui/signin", submit, methods=["POST"]),
        Route("/ui/signout", _view(signout, post=True), methods=["POST"]),
    ]


# namespaces, workflows, executions ----------------------------------------------------------


async def home(request: Request, ctx: _Ctx) -> Response:
    found = await run_in_threadpool(workflows.list_namespaces, ctx.deps, ctx.principal)
    return _html(views.namespaces_page(found, ctx.csrf))


async def namespace(request: Request, ctx: _Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        return views.namespace_page(
            ns, workflows.list_workflows(ctx.deps, ctx.principal, ns_id), ctx.csrf
        )

    return _html(await run_in_threadpool(read))


def _namespace_rows(ctx: _Ctx, ns_id: str) -> str:
    found = queries.list_namespace_executions(ctx.deps, ctx.principal, ns_id, limit=_LIVE_ROWS)
    labels: dict[str, str] = {}
    for wf in {x.workflow_id for x in found}:
        labels |= queries.trigger_labels(ctx.deps, ctx.principal, wf)
    return views.execution_rows(found, labels)


async def namespace_executions(request: Request, ctx: _Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        return views.namespace_executions_page(ns, _namespace_rows(ctx, ns_id), ctx.csrf)

    return _html(await run_in_threadpool(read))


async def namespace_rows(request: Request, ctx: _Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]
    return _html(await run_in_threadpool(_namespace_rows, ctx, ns_id))


def _workflow_rows(ctx: _Ctx, wf_id: str) -> str:
    found = queries.list_executions(ctx.deps, ctx.principal, wf_id, limit=_LIVE_ROWS)
    return views.execution_rows(found, queries.trigger_labels(ctx.deps, ctx.principal, wf_id))


async def workflow(request: Request, ctx: _Ctx) -> Response:
    wf_id = request.path_params["workflow_id"]
    note = _NOTICES.get(request.query_params.get("done", ""), "")

    def read() -> str:
        wf = queries.get_workflow(ctx.deps, ctx.principal, wf_id)
        ns = queries.get_namespace(ctx.deps, ctx.principal, wf.namespace_id)
        history = deployments.deployment_history(ctx.deps, ctx.principal, wf_id)
        return views.workflow_page(ns, wf, history, _workflow_rows(ctx, wf_id), ctx.csrf, note)

    return _html(await run_in_threadpool(read))


async def workflow_rows(request: Request, ctx: _Ctx) -> Response:
    return _html(await run_in_threadpool(_workflow_rows, ctx, request.path_params["workflow_id"]))


async def activate(request: Request, ctx: _Ctx) -> Response:
    wf_id = request.path_params["workflow_id"]
    await run_in_threadpool(
        deployments.activate_deployment,
        ctx.deps,
        ctx.principal,
        wf_id,
        request.path_params["deployment_id"],
    )
    return _see(f"/ui/workflows/{wf_id}?done=rolled-back")


async def execution(request: Request, ctx: _Ctx) -> Response:
    def read() -> str:
        x = queries.get_execution(ctx.deps, ctx.principal, request.path_params["execution_id"])
        wf = queries.get_workflow(ctx.deps, ctx.principal, x.workflow_id)
        ns = queries.get_namespace(ctx.deps, ctx.principal, wf.namespace_id)
        label = queries.trigger_labels(ctx.deps, ctx.principal, wf.id).get(
            x.trigger_id, "removed trigger"
        )
        return views.execution_page(ns, wf, x, label, ctx.csrf)

    return _html(await run_in_threadpool(read))


async def rerun(request: Request, ctx: _Ctx) -> Response:
    again = await run_in_threadpool(
        execution_control.rerun_execution,
        ctx.deps,
        ctx.principal,
        request.path_params["execution_id"],
    )
    return _see(f"/ui/executions/{again.id}")


async def cancel(request: Request, ctx: _Ctx) -> Response:
    execution_id = request.path_params["execution_id"]
    await run_in_threadpool(
        execution_control.cancel_execution, ctx.deps, ctx.principal, execution_id
    )
    return _see(f"/ui/executions/{execution_id}")


# providers and API keys ---------------------------------------------------------------------


async def provider_list(request: Request, ctx: _Ctx, note: str = "", status: int = 200) -> Response:
    ns_id = request.path_params["namespace_id"]
    svc = services(request)
    note = note or _NOTICES.get(request.query_params.get("done", ""), "")

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        found = queries.list_providers(ctx.deps, ctx.principal, ns_id, svc.fields_for)
        # Types whose fields only their code declares (``secret``, ``builtin``) are set up by code.
        types = sorted(name for name, fields in svc.provider_types().items() if fields)
        return views.providers_page(ns, found, types, ctx.csrf, note)

    return _html(await run_in_threadpool(read), status)


async def provider_new(request: Request, ctx: _Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]
    type_ = request.query_params.get("type", "")
    alias = request.query_params.get("alias", "") or "default"
    svc = services(request)

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        return views.provider_form_page(ns, type_, alias, svc.fields_for(type_), ctx.csrf)

    return _html(await run_in_threadpool(read))


async def provider_save(request: Request, ctx: _Ctx) -> Response:
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
        return _see(f"/ui/namespaces/{ns_id}/providers?done=saved")

    # The form again, empty: what was typed (secrets included) is never sent back.
    def again() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        fields = svc.fields_for(type_)
        return views.provider_form_page(ns, type_, alias, fields, ctx.csrf, problem)

    return _html(await run_in_threadpool(again), status)


async def key_list(request: Request, ctx: _Ctx, created: str = "", status: int = 200) -> Response:
    ns_id = request.path_params["namespace_id"]

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        keys = api_keys.list_api_keys(ctx.deps, ctx.principal, ns_id)
        return views.api_keys_page(ns, keys, ctx.csrf, created)

    return _html(await run_in_threadpool(read), status)


async def key_create(request: Request, ctx: _Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]
    name = request.state.form.get("name", "")
    plaintext, _ = await run_in_threadpool(
        api_keys.create_api_key, ctx.deps, ctx.principal, ns_id, name
    )
    return await key_list(request, ctx, created=plaintext, status=201)


async def key_revoke(request: Request, ctx: _Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]
    await run_in_threadpool(
        api_keys.revoke_api_key, ctx.deps, ctx.principal, ns_id, request.path_params["key_id"]
    )
    return _see(f"/ui/namespaces/{ns_id}/api-keys")


# the rest -----------------------------------------------------------------------------------


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    media = _STATIC.get(name)
    if media is None:
        return Response("not found", 404, media_type="text/plain")
    body = resources.files(__package__).joinpath("static", name).read_bytes()
    return Response(
        body,
        200,
        media_type=media,
        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
    )


async def root(request: Request) -> Response:
    return _see("/ui/")


def dashboard_routes(sign_in: BrowserSignIn) -> list[BaseRoute]:
    """Every route of the dashboard; ``sign_in`` is how people sign in."""
    ns, wf = "/ui/namespaces/{namespace_id}", "/ui/workflows/{workflow_id}"
    get = [
        ("/ui/", home),
        (ns, namespace),
        (ns + "/executions", namespace_executions),
        (ns + "/executions/rows", namespace_rows),
        (ns + "/providers", provider_list),
        (ns + "/providers/new", provider_new),
        (ns + "/api-keys", key_list),
        (wf, workflow),
        (wf + "/executions/rows", workflow_rows),
        ("/ui/executions/{execution_id}", execution),
    ]
    post = [
        (wf + "/deployments/{deployment_id}/activate", activate),
        ("/ui/executions/{execution_id}/rerun", rerun),
        ("/ui/executions/{execution_id}/cancel", cancel),
        (ns + "/providers", provider_save),
        (ns + "/api-keys", key_create),
        (ns + "/api-keys/{key_id}/revoke", key_revoke),
    ]
    return [
        Route("/", root, methods=["GET"]),
        Route("/ui", root, methods=["GET"]),
        Route("/ui/static/{name}", static, methods=["GET"]),
        *_signin_routes(sign_in),
        *(Route(path, _view(view), methods=["GET"]) for path, view in get),
        *(Route(path, _view(view, post=True), methods=["POST"]) for path, view in post),
    ]
