"""The dashboard's HTML, rendered on the server. Every value that comes from data goes through
``html.escape``; pages load only this server's stylesheet and script."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from floww.domain.model import (
    ApiKey,
    Deployment,
    Execution,
    Namespace,
    ProviderField,
    Workflow,
)
from floww.domain.usecases.queries import RedactedProvider

__all__ = [
    "api_keys_page",
    "execution_page",
    "execution_rows",
    "message_page",
    "namespace_page",
    "namespaces_page",
    "provider_form_page",
    "signed_out_page",
    "signin_page",
    "workflow_page",
]

e = html.escape


def _when(at: datetime | None) -> str:
    return (
        ""
        if at is None
        else f"<time datetime='{e(at.isoformat())}'>{e(at.strftime('%Y-%m-%d %H:%M:%S'))}</time>"
    )


def layout(
    title: str,
    body: str,
    *,
    csrf: str = "",
    crumbs: Sequence[tuple[str, str]] = (),
    then: str = "",
) -> str:
    """A page; ``then`` is where the browser goes on its own right away (no script)."""
    trail = "".join(f"<li><a href='{e(href)}'>{e(label)}</a></li>" for label, href in crumbs)
    signout = (
        "<form method=post action=/ui/signout class=signout>"
        f"<input type=hidden name=csrf value='{e(csrf)}'><button>Sign out</button></form>"
        if csrf
        else ""
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        + (f"<meta http-equiv=refresh content='0;url={e(then)}'>" if then else "")
        + f"<title>{e(title)} · floww</title>"
        "<link rel=icon href=/ui/static/favicon.svg type='image/svg+xml'>"
        "<link rel=stylesheet href=/ui/static/dashboard.css>"
        "<script src=/ui/static/dashboard.js defer></script></head><body>"
        f"<header><a class=brand href=/ui/>floww</a>{signout}</header>"
        f"<nav aria-label=Breadcrumb><ol>{trail}</ol></nav>"
        f"<main><h1>{e(title)}</h1>{body}</main></body></html>"
    )


def _notice(text: str, role: str = "status") -> str:
    return f"<p class=notice role={role}>{e(text)}</p>" if text else ""


def _head(*columns: str) -> str:
    """A table head; an empty column name is an actions column, named for screen readers."""
    cells = "".join(
        f"<th scope=col>{e(c)}</th>"
        if c
        else "<th scope=col><span class=sr-only>Actions</span></th>"
        for c in columns
    )
    return f"<thead><tr>{cells}</tr></thead>"


def _section(key: str, title: str, inner: str) -> str:
    return f"<section aria-labelledby={key}><h2 id={key}>{e(title)}</h2>{inner}</section>"


def _hidden_csrf(csrf: str) -> str:
    return f"<input type=hidden name=csrf value='{e(csrf)}'>"


def signin_page(note: str = "", start_url: str | None = None) -> str:
    if start_url is not None:
        body = f"{_notice(note, 'alert')}<p><a class=button href='{e(start_url)}'>Sign in</a></p>"
    else:
        body = (
            f"{_notice(note, 'alert')}<form method=post action=/ui/signin>"
            "<label>Email <input name=email type=email required autocomplete=username></label>"
            "<label>Password <input name=password type=password required "
            "autocomplete=current-password></label><button>Sign in</button></form>"
        )
    return layout("Sign in", body)


def signed_out_page(provider_url: str) -> str:
    """After sign-out with a hosted sign-in: the browser goes on to the provider to end its
    session there (a page, not a redirect: a form may only lead to this site)."""
    body = (
        "<p role=status>You are signed out here; ending your session at the identity provider."
        f"</p><p><a class=button href='{e(provider_url)}'>Continue</a></p>"
    )
    return layout("Signing out", body, then=provider_url)


def message_page(title: str, text: str, csrf: str = "") -> str:
    return layout(
        title, f"<p role=alert>{e(text)}</p><p><a href=/ui/>Back to the start</a></p>", csrf=csrf
    )


def namespaces_page(namespaces: Iterable[Namespace], csrf: str) -> str:
    items = "".join(
        f"<li><a href='/ui/namespaces/{e(n.id)}'>{e(n.name)}</a></li>" for n in namespaces
    )
    return layout("Namespaces", f"<ul>{items or '<li>No namespace yet.</li>'}</ul>", csrf=csrf)


def namespace_page(namespace: Namespace, workflows: Iterable[Workflow], csrf: str) -> str:
    rows = "".join(
        f"<tr><td><a href='/ui/workflows/{e(w.id)}'>{e(w.name)}</a></td>"
        f"<td>{_when(w.created_at)}</td></tr>"
        for w in workflows
    )
    base = f"/ui/namespaces/{e(namespace.id)}"
    table = f"<table>{_head('Name', 'Created')}<tbody>{rows}</tbody></table>"
    body = (
        _section("wf", "Workflows", table)
        + f"<p><a href='{base}/executions'>Executions of every workflow</a> · "
        f"<a href='{base}/providers'>Providers</a> · <a href='{base}/api-keys'>API keys</a></p>"
    )
    return layout(namespace.name, body, csrf=csrf, crumbs=[("Namespaces", "/ui/")])


def execution_rows(executions: Iterable[Execution], labels: dict[str, str]) -> str:
    """The ``<tr>`` rows of an execution table (also what the live refresh fetches)."""
    return "".join(
        f"<tr data-status='{e(x.status.value)}'>"
        f"<td><a href='/ui/executions/{e(x.id)}'>{e(x.id)}</a></td>"
        f"<td>{e(labels.get(x.trigger_id, 'removed trigger'))}</td>"
        f"<td class='status {e(x.status.value)}'>{e(x.status.value)}</td>"
        f"<td>{_when(x.received_at)}</td>"
        f"<td>{'' if x.duration_ms is None else e(f'{x.duration_ms:.0f} ms')}</td></tr>"
        for x in executions
    )


def executions_table(rows: str, live_url: str) -> str:
    head = _head("Execution", "Trigger", "Status", "Received", "Duration")
    tbody = f"<tbody id=executions data-live='{e(live_url)}' aria-live=polite>{rows}</tbody>"
    return _section("runs", "Executions", f"<table>{head}{tbody}</table>")


def namespace_executions_page(namespace: Namespace, rows: str, csrf: str) -> str:
    table = executions_table(rows, f"/ui/namespaces/{namespace.id}/executions/rows")
    crumbs = [("Namespaces", "/ui/"), (namespace.name, f"/ui/namespaces/{namespace.id}")]
    return layout(f"Executions of {namespace.name}", table, csrf=csrf, crumbs=crumbs)


def workflow_page(
    namespace: Namespace,
    workflow: Workflow,
    history: Sequence[tuple[Deployment, str | None]],
    rows: str,
    csrf: str,
    note: str = "",
) -> str:
    deployments = "".join(_deployment_row(workflow, d, image, csrf) for d, image in history)
    head = _head("Deployment", "Status", "Code", "Triggers", "By", "Created", "")
    body = (
        _notice(note)
        + _section("deps", "Deployments", f"<table>{head}<tbody>{deployments}</tbody></table>")
        + executions_table(rows, f"/ui/workflows/{workflow.id}/executions/rows")
    )
    crumbs = [("Namespaces", "/ui/"), (namespace.name, f"/ui/namespaces/{namespace.id}")]
    return layout(workflow.name, body, csrf=csrf, crumbs=crumbs)


def _deployment_row(workflow: Workflow, d: Deployment, image: str | None, csrf: str) -> str:
    action = ""
    if d.status.value != "active":
        action = (
            f"<form method=post action='/ui/workflows/{e(workflow.id)}/deployments/"
            f"{e(d.id)}/activate'>"
            f"{_hidden_csrf(csrf)}<button>Roll back to this</button></form>"
        )
    triggers = ", ".join(f"{t.provider.type}.{t.trigger_type}" for t in d.triggers)
    return (
        f"<tr data-deployment='{e(d.id)}'><td>{e(d.id)}</td>"
        f"<td class=status>{e(d.status.value)}</td>"
        f"<td><code title='{e(image or '')}'>{e(d.code.digest[:19])}</code></td>"
        f"<td>{e(triggers)}</td>"
        f"<td>{e(d.created_by or '')}</td><td>{_when(d.created_at)}</td><td>{action}</td></tr>"
    )


def _attempt(x: Execution) -> str:
    if x.attempt == 1:
        return "1"
    link = f"<a href='/ui/executions/{e(x.retry_of or '')}'>{e(x.retry_of or '')}</a>"
    return f"{x.attempt} (retry of {link}, after {e(str(x.retry_delay_s))} s)"


def _pretty(value: Any) -> str:
    return e(json.dumps(value, indent=2, sort_keys=True, default=str))


def execution_page(
    namespace: Namespace, workflow: Workflow, x: Execution, trigger: str, csrf: str
) -> str:
    facts = [
        ("Status", e(x.status.value)),
        ("Trigger", e(trigger)),
        ("Deployment", e(x.deployment_id or "dev session")),
        ("Received", _when(x.received_at)),
        ("Started", _when(x.started_at)),
        ("Finished", _when(x.finished_at)),
        ("Duration", "" if x.duration_ms is None else e(f"{x.duration_ms:.1f} ms")),
        ("Triggered by", e(x.triggered_by or "")),
        ("Attempt", _attempt(x)),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    logs = "".join(
        f"<li class='log {e(line.level)}'>{_when(line.at)} <b>{e(line.level)}</b> {e(line.message)}"
        + (f" <code>{_pretty(dict(line.fields))}</code>" if line.fields else "")
        + "</li>"
        for line in x.logs
    )
    error = ""
    if x.error is not None:
        error = (
            "<section aria-labelledby=err><h2 id=err>Error</h2>"
            f"<p><b>{e(x.error.type)}</b>: {e(x.error.message)}</p>"
            + (f"<pre class=traceback>{e(x.error.traceback)}</pre>" if x.error.traceback else "")
            + "</section>"
        )
    base = f"/ui/executions/{e(x.id)}"
    actions = (
        f"<form method=post action='{base}/rerun'>{_hidden_csrf(csrf)}"
        "<button>Run again</button></form>"
    )
    if not x.status.is_final:
        actions += (
            f"<form method=post action='{base}/cancel'>{_hidden_csrf(csrf)}"
            "<button>Cancel</button></form>"
        )
    body = (
        f"<dl class=facts>{dl}</dl><div class=actions>{actions}</div>{error}"
        + _section("logs", "Logs", f"<ol class=logs>{logs or '<li>No logs.</li>'}</ol>")
        + _section("res", "Result", f"<pre>{_pretty(x.result)}</pre>")
        + _section("ev", "Event", f"<pre>{_pretty(dict(x.event))}</pre>")
    )
    crumbs = [
        ("Namespaces", "/ui/"),
        (namespace.name, f"/ui/namespaces/{namespace.id}"),
        (workflow.name, f"/ui/workflows/{workflow.id}"),
    ]
    return layout(f"Execution {x.id}", body, csrf=csrf, crumbs=crumbs)


def providers_page(
    namespace: Namespace,
    found: Iterable[RedactedProvider],
    types: Iterable[str],
    csrf: str,
    note: str = "",
) -> str:
    rows = "".join(
        f"<tr><td>{e(p.type)}</td><td>{e(p.alias)}</td><td>"
        + ", ".join(f"{e(k)}: {e(v)}" for k, v in sorted(p.config.items()))
        + "</td></tr>"
        for p in found
    )
    options = "".join(f"<option>{e(t)}</option>" for t in types)
    body = (
        f"{_notice(note)}<table><thead><tr><th scope=col>Type</th><th scope=col>Alias</th>"
        f"<th scope=col>Settings</th></tr></thead><tbody>{rows}</tbody></table>"
        "<h2>Set up a provider</h2>"
        f"<form method=get action='/ui/namespaces/{e(namespace.id)}/providers/new'>"
        f"<label>Type <select name=type required>{options}</select></label>"
        "<label>Alias <input name=alias value=default required pattern='[A-Za-z0-9_.\\-]+'></label>"
        "<button>Continue</button></form>"
    )
    crumbs = [("Namespaces", "/ui/"), (namespace.name, f"/ui/namespaces/{namespace.id}")]
    return layout(f"Providers of {namespace.name}", body, csrf=csrf, crumbs=crumbs)


def provider_form_page(
    namespace: Namespace,
    provider_type: str,
    alias: str,
    fields: Sequence[ProviderField],
    csrf: str,
    note: str = "",
) -> str:
    """Secret fields are password inputs that are never filled in, not even after an error."""
    inputs = "".join(
        f"<label>{e(f.label or f.name)} <input name='field.{e(f.name)}' "
        + ("type=password autocomplete=new-password" if f.secret else "type=text autocomplete=off")
        + (" required" if f.required else "")
        + "></label>"
        for f in fields
    )
    body = (
        _notice(note, "alert")
        + f"<form method=post action='/ui/namespaces/{e(namespace.id)}/providers'>"
        f"{_hidden_csrf(csrf)}<input type=hidden name=type value='{e(provider_type)}'>"
        f"<input type=hidden name=alias value='{e(alias)}'>{inputs}<button>Save</button></form>"
    )
    crumbs = [
        ("Namespaces", "/ui/"),
        (namespace.name, f"/ui/namespaces/{namespace.id}"),
        ("Providers", f"/ui/namespaces/{namespace.id}/providers"),
    ]
    return layout(f"Set up {provider_type} ({alias})", body, csrf=csrf, crumbs=crumbs)


def api_keys_page(
    namespace: Namespace, keys: Iterable[ApiKey], csrf: str, created: str = "", note: str = ""
) -> str:
    base = f"/ui/namespaces/{e(namespace.id)}/api-keys"
    rows = "".join(
        f"<tr><td>{e(k.name)}</td><td><code>{e(k.hint)}</code></td><td>{_when(k.created_at)}</td>"
        f"<td><form method=post action='{base}/{e(k.id)}/revoke'>{_hidden_csrf(csrf)}"
        "<button>Revoke</button></form></td></tr>"
        for k in keys
    )
    shown = (
        "<p role=status>Your new key (shown this once; keep it in your CI's secrets):</p>"
        f"<pre class=key>{e(created)}</pre>"
        if created
        else ""
    )
    body = (
        f"{_notice(note, 'alert')}{shown}<table>{_head('Name', 'Key', 'Created', '')}"
        f"<tbody>{rows}</tbody></table><h2>New API key</h2><form method=post action='{base}'>"
        f"{_hidden_csrf(csrf)}<label>Name <input name=name required maxlength=100></label>"
        "<button>Create</button></form>"
    )
    crumbs = [("Namespaces", "/ui/"), (namespace.name, f"/ui/namespaces/{namespace.id}")]
    return layout(f"API keys of {namespace.name}", body, csrf=csrf, crumbs=crumbs)
