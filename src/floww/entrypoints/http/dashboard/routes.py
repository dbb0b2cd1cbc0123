"""The dashboard's routes under ``/ui`` (and ``/``, which leads there). A route parses, calls
the same use cases as the API (so the same access rules decide), and renders a page; what every
page shares is in ``pages``, providers and API keys in ``namespace_settings``.
"""

from __future__ import annotations

from importlib import resources

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floww.domain.errors import FlowwError, RateLimited, Unauthenticated
from floww.domain.usecases import deployments, execution_control, queries, workflows
from floww.entrypoints.http.codec import services
from floww.entrypoints.http.dashboard import namespace_settings as ns_settings
from floww.entrypoints.http.dashboard import session, views
from floww.entrypoints.http.dashboard.pages import (
    NOTICES,
    Ctx,
    page,
    read_form,
    secure,
    see,
    signed_in,
)
from floww.entrypoints.http.dashboard.signin import BrowserSignIn
from floww.entrypoints.http.errors import retry_after, status_for

__all__ = ["dashboard_routes"]

_LIVE_ROWS = 50
_STATIC = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


# sign-in ------------------------------------------------------------------------------------


def _signin_routes(sign_in: BrowserSignIn) -> list[BaseRoute]:
    async def show(request: Request) -> Response:
        return page(views.signin_page(start_url=sign_in.start_url))

    async def submit(request: Request) -> Response:
        if not session.same_origin(request):
            return page(views.signin_page("That form came from another site."), 403)
        form = await read_form(request)
        email, guard = form.get("email", ""), services(request).guard
        try:
            if guard is not None:
                guard.admit_login(request, email)
            token = await run_in_threadpool(sign_in.sign_in, email, form.get("password", ""))
        except RateLimited as exc:
            refused = page(
                views.signin_page("Too many failed sign-ins: wait, then try again."), 429
            )
            refused.headers["Retry-After"] = retry_after(exc)
            return refused
        except Unauthenticated:
            return page(views.signin_page("Wrong email or password."), 401)
        except FlowwError as exc:
            return page(views.signin_page(exc.message), status_for(exc))
        if guard is not None:
            guard.login_succeeded(request, email)
        answer = see("/ui/")
        session.set_session(answer, token, secure=secure(request), max_age=8 * 3600)
        return answer

    async def signout(request: Request, ctx: Ctx) -> Response:
        token, back = session.session_token(request) or "", "/ui/signin"
        base = services(request).deps.settings.base_url
        url = await run_in_threadpool(sign_in.sign_out_url, token, base + back)
        # The provider is another site, which the page's form-action policy keeps a form (and
        # its redirects) from reaching: a page takes the browser there.
        answer = see(back) if url == base + back else page(views.signed_out_page(url))
        session.clear_session(answer, secure=secure(request))
        return answer

    return [
        Route("/ui/signin", show, methods=["GET"]),
        Route("/ui/signin", submit, methods=["POST"]),
        Route("/ui/signout", signed_in(signout, sign_in, post=True), methods=["POST"]),
    ]


# namespaces, workflows, executions ----------------------------------------------------------


async def home(request: Request, ctx: Ctx) -> Response:
    found = await run_in_threadpool(workflows.list_namespaces, ctx.deps, ctx.principal)
    return page(views.namespaces_page(found, ctx.csrf))


async def namespace(request: Request, ctx: Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        return views.namespace_page(
            ns, workflows.list_workflows(ctx.deps, ctx.principal, ns_id), ctx.csrf
        )

    return page(await run_in_threadpool(read))


def _namespace_rows(ctx: Ctx, ns_id: str) -> str:
    found = queries.list_namespace_executions(ctx.deps, ctx.principal, ns_id, limit=_LIVE_ROWS)
    labels: dict[str, str] = {}
    for wf in {x.workflow_id for x in found}:
        labels |= queries.trigger_labels(ctx.deps, ctx.principal, wf)
    return views.execution_rows(found, labels)


async def namespace_executions(request: Request, ctx: Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]

    def read() -> str:
        ns = queries.get_namespace(ctx.deps, ctx.principal, ns_id)
        return views.namespace_executions_page(ns, _namespace_rows(ctx, ns_id), ctx.csrf)

    return page(await run_in_threadpool(read))


async def namespace_rows(request: Request, ctx: Ctx) -> Response:
    ns_id = request.path_params["namespace_id"]
    return page(await run_in_threadpool(_namespace_rows, ctx, ns_id))


def _workflow_rows(ctx: Ctx, wf_id: str) -> str:
    found = queries.list_executions(ctx.deps, ctx.principal, wf_id, limit=_LIVE_ROWS)
    return views.execution_rows(found, queries.trigger_labels(ctx.deps, ctx.principal, wf_id))


async def workflow(request: Request, ctx: Ctx) -> Response:
    wf_id = request.path_params["workflow_id"]
    note = NOTICES.get(request.query_params.get("done", ""), "")

    def read() -> str:
        wf = queries.get_workflow(ctx.deps, ctx.principal, wf_id)
        ns = queries.get_namespace(ctx.deps, ctx.principal, wf.namespace_id)
        history = deployments.deployment_history(ctx.deps, ctx.principal, wf_id)
        return views.workflow_page(ns, wf, history, _workflow_rows(ctx, wf_id), ctx.csrf, note)

    return page(await run_in_threadpool(read))


async def workflow_rows(request: Request, ctx: Ctx) -> Response:
    return page(await run_in_threadpool(_workflow_rows, ctx, request.path_params["workflow_id"]))


async def activate(request: Request, ctx: Ctx) -> Response:
    wf_id = request.path_params["workflow_id"]
    await run_in_threadpool(
        deployments.activate_deployment,
        ctx.deps,
        ctx.principal,
        wf_id,
        request.path_params["deployment_id"],
    )
    return see(f"/ui/workflows/{wf_id}?done=rolled-back")


async def execution(request: Request, ctx: Ctx) -> Response:
    def read() -> str:
        x = queries.get_execution(ctx.deps, ctx.principal, request.path_params["execution_id"])
        wf = queries.get_workflow(ctx.deps, ctx.principal, x.workflow_id)
        ns = queries.get_namespace(ctx.deps, ctx.principal, wf.namespace_id)
        label = queries.trigger_labels(ctx.deps, ctx.principal, wf.id).get(
            x.trigger_id, "removed trigger"
        )
        return views.execution_page(ns, wf, x, label, ctx.csrf)

    return page(await run_in_threadpool(read))


async def rerun(request: Request, ctx: Ctx) -> Response:
    again = await run_in_threadpool(
        execution_control.rerun_execution,
        ctx.deps,
        ctx.principal,
        request.path_params["execution_id"],
    )
    return see(f"/ui/executions/{again.id}")


async def cancel(request: Request, ctx: Ctx) -> Response:
    execution_id = request.path_params["execution_id"]
    await run_in_threadpool(
        execution_control.cancel_execution, ctx.deps, ctx.principal, execution_id
    )
    return see(f"/ui/executions/{execution_id}")


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
    return see("/ui/")


def dashboard_routes(sign_in: BrowserSignIn) -> list[BaseRoute]:
    """Every route of the dashboard; ``sign_in`` is how people sign in."""
    ns, wf = "/ui/namespaces/{namespace_id}", "/ui/workflows/{workflow_id}"
    get = [
        ("/ui/", home),
        (ns, namespace),
        (ns + "/executions", namespace_executions),
        (ns + "/executions/rows", namespace_rows),
        (ns + "/providers", ns_settings.provider_list),
        (ns + "/providers/new", ns_settings.provider_new),
        (ns + "/api-keys", ns_settings.key_list),
        (wf, workflow),
        (wf + "/executions/rows", workflow_rows),
        ("/ui/executions/{execution_id}", execution),
    ]
    post = [
        (wf + "/deployments/{deployment_id}/activate", activate),
        ("/ui/executions/{execution_id}/rerun", rerun),
        ("/ui/executions/{execution_id}/cancel", cancel),
        (ns + "/providers", ns_settings.provider_save),
        (ns + "/api-keys", ns_settings.key_create),
        (ns + "/api-keys/{key_id}/revoke", ns_settings.key_revoke),
    ]
    return [
        Route("/", root, methods=["GET"]),
        Route("/ui", root, methods=["GET"]),
        Route("/ui/static/{name}", static, methods=["GET"]),
        *_signin_routes(sign_in),
        *(Route(path, signed_in(view, sign_in), methods=["GET"]) for path, view in get),
        *(
            Route(path, signed_in(view, sign_in, post=True), methods=["POST"])
            for path, view in post
        ),
    ]
