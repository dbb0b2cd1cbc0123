"""Stable provider webhook URLs, the deploy's labelled URLs, and GitHub repository and GitLab
project webhooks registered at deploy, against a real ``floww serve`` and the real CLI.

GitHub's REST API is played by a loopback stand-in implementing the documented shapes of
``/repos/{owner}/{repo}/hooks`` (list, create 201, update 200, delete 204; 404 for an unknown
repository, 403 for a repository the token may not administer, 422 for a body GitHub refuses,
including a second hook for one URL; ``Authorization: Bearer``; the secret never listed back),
and GitLab's ``/projects/:id/hooks`` (``:id`` URL-encoded; list, create 201, update with PUT
200, delete 204; 404 for an unknown project; the token never listed back).
The stand-ins do not cover pagination headers, rate limits, fine-grained token permissions,
GitLab's group hooks, or the providers' own deliveries to the URL (those are signed here as
GitHub signs them, as in ``test_provider_deliveries.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from floww.domain.model import ExecutionStatus
from tests.integration.lifecycle import (
    client_env,
    deploy,
    executions_of,
    floww_cli,
    make_project,
    server_env,
    sql_repo,
    wait_until,
)
from tests.integration.serving import running_server

pytestmark = pytest.mark.integration

TOKEN = "ghp_standin"
SECRET = "gh-hook-secret"


class GitHubStandIn(ThreadingHTTPServer):
    """Repositories ``acme/api`` (the token administers it) and ``acme/locked`` (it may not:
    403); any other repository is unknown (404)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hooks: dict[str, list[dict[str, Any]]] = {"acme/api": []}
        self.gitlab_hooks: list[dict[str, Any]] = []  # project acme/api
        self.locked = {"acme/locked"}
        self.calls: list[tuple[str, str]] = []
        self.auth_seen: set[str] = set()
        self.next_id = 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _listed(hook: dict[str, Any]) -> dict[str, Any]:
    config = dict(hook["config"])
    if "secret" in config:
        config["secret"] = "********"  # GitHub never lists a secret back
    return {**hook, "config": config}


class _Handler(BaseHTTPRequestHandler):
    server: GitHubStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, doc: Any = None) -> None:
        data = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        self.server.calls.append((method, path))
        self.server.auth_seen.add(self.headers.get("Authorization") or "")
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"message": "Bad credentials"})
        gitlab = re.fullmatch(r"/gitlab/projects/([^/]+)/hooks(?:/(\d+))?", path)
        if gitlab:
            return self._gitlab(method, gitlab[1], gitlab[2])
        found = re.fullmatch(r"/github/repos/([^/]+)/([^/]+)/hooks(?:/(\d+))?", path)
        if not found:
            return self._send(404, {"message": "Not Found"})
        repository = f"{found[1]}/{found[2]}"
        if repository in self.server.locked:
            return self._send(403, {"message": "Resource not accessible by personal access token"})
        if repository not in self.server.hooks:
            return self._send(404, {"message": "Not Found"})
        hooks = self.server.hooks[repository]
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        if found[3] is None:
            if method == "GET":
                return self._send(200, [_listed(h) for h in hooks])
            if method == "POST":
                return self._create(hooks, body)
            return self._send(404, {"message": "Not Found"})
        hook = next((h for h in hooks if h["id"] == int(found[3])), None)
        if hook is None:
            return self._send(404, {"message": "Not Found"})
        if method == "PATCH":
            if not isinstance(body, dict) or not body.get("events"):
                return self._send(422, {"message": "Validation Failed"})
            hook.update(
                events=list(body["events"]),
                active=bool(body.get("active", True)),
                config={**hook["config"], **(body.get("config") or {})},
            )
            return self._send(200, _listed(hook))
        if method == "DELETE":
            hooks.remove(hook)
            return self._send(204)
        return self._send(404, {"message": "Not Found"})

    def _gitlab(self, method: str, project: str, hook_id: str | None) -> None:
        """GitLab's project hooks: ``:id`` is the URL-encoded path; the token is never listed."""
        if project != "acme%2Fapi":
            return self._send(404, {"message": "404 Project Not Found"})
        hooks = self.server.gitlab_hooks
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        listed = [{k: v for k, v in h.items() if k != "token"} for h in hooks]
        if hook_id is None and method == "GET":
            return self._send(200, listed)
        if hook_id is None and method == "POST":
            if not isinstance(body, dict) or not body.get("url"):
                return self._send(400, {"message": "url is missing"})
            hook = {"id": self.server.next_id, "push_events": True, **body}
            self.server.next_id += 1
            hooks.append(hook)
            return self._send(201, {k: v for k, v in hook.items() if k != "token"})
        hook = next((h for h in hooks if str(h["id"]) == hook_id), None)
        if hook is None:
            return self._send(404, {"message": "404 Not found"})
        if method == "PUT":
            hook.update(body)
            return self._send(200, {k: v for k, v in hook.items() if k != "token"})
        if method == "DELETE":
            hooks.remove(hook)
            return self._send(204)
        return self._send(404, {"message": "404 Not found"})

    def do_PUT(self) -> None:
        self._route("PUT")

    def _create(self, hooks: list[dict[str, Any]], body: Any) -> None:
        config = body.get("config") if isinstance(body, dict) else None
        if not isinstance(config, dict) or not config.get("url") or not body.get("events"):
            return self._send(422, {"message": "Validation Failed"})
        if any(h["config"]["url"] == config["url"] for h in hooks):
            errors = [{"resource": "Hook", "message": "Hook already exists on this repository"}]
            return self._send(422, {"message": "Validation Failed", "errors": errors})
        hook = {
            "id": self.server.next_id,
            "name": body.get("name", "web"),
            "active": bool(body.get("active", True)),
            "events": list(body["events"]),
            "config": dict(config),
        }
        self.server.next_id += 1
        hooks.append(hook)
        return self._send(201, _listed(hook))

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_DELETE(self) -> None:
        self._route("DELETE")


@contextmanager
def github_stand_in() -> Iterator[GitHubStandIn]:
    server = GitHubStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def code(release_branch: str, *, pull_requests: bool = False, github: bool = True) -> str:
    if not github:
        return ""
    extra = f"""

from floww import GitHub

github = GitHub()


@github.on_push(owner="acme", repository="api", branch="main")
def on_main(ctx, event):
    return {{"ran": "main"}}


@github.on_push(owner="acme", repository="api", branch="{release_branch}")
def on_release(ctx, event):
    return {{"ran": "{release_branch}"}}


@github.on_push(owner="acme", repository="locked", branch="main")
def on_locked(ctx, event):
    return {{"ran": "locked"}}


from floww import GitLab

gitlab = GitLab()


@gitlab.on_push(project="acme/api", branch="main")
def on_gitlab(ctx, event):
    return {{"ran": "gitlab"}}
"""
    if pull_requests:
        extra += """

@github.on_pull_request(owner="acme", repository="api", actions=["opened"])
def on_pr(ctx, event):
    return {"ran": "pull_request"}


@gitlab.on_merge_request(project="acme/api", actions=["open"])
def on_mr(ctx, event):
    return {"ran": "merge_request"}
"""
    return extra


def push(url: str, branch: str, *, kind: str = "push") -> httpx.Response:
    payload = {"ref": f"refs/heads/{branch}", "repository": {"full_name": "acme/api"}}
    payload["nonce"] = uuid.uuid4().hex  # GitHub deduplicates on the signed body: new each time
    body = json.dumps(payload).encode()
    headers = {
        "x-hub-signature-256": "sha256="
        + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        "x-github-event": kind,
        "x-github-delivery": uuid.uuid4().hex,
        "content-type": "application/json",
    }
    return httpx.post(url, content=body, headers=headers, timeout=30)


def provider_hook(
    doc: dict[str, Any], target: str, provider: str = "github:default"
) -> dict[str, Any]:
    found = [
        h for h in doc["provider_hooks"] if h["target"] == target and h["provider"] == provider
    ]
    assert len(found) == 1, doc["provider_hooks"]
    return found[0]


def test_stable_url_labels_and_registered_github_webhook(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'home' / 'floww.db'}"
    env = server_env(
        database_url,
        register_provider_hooks="true",
        sandbox_egress_allow="127.0.0.1/32",  # the stand-in APIs on loopback
    )
    with github_stand_in() as gh, running_server(tmp_path / "home", env=env) as server:
        cli = client_env(server, tmp_path / "client")
        setup = floww_cli(
            cli,
            "providers",
            "setup",
            "github",
            "--set",
            f"token={TOKEN}",
            "--set",
            f"webhook_secret={SECRET}",
            "--set",
            f"api_url={gh.url}/github",
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr
        setup = floww_cli(
            cli,
            "providers",
            "setup",
            "gitlab",
            "--set",
            f"token={TOKEN}",
            "--set",
            "webhook_token=gl-hook-token",
            "--set",
            f"api_url={gh.url}/gitlab",
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr

        # 1. Three triggers, one URL, labelled with all three; acme/api's webhook is created,
        # acme/locked's cannot be (403): reported with what to do by hand, the deploy stands.
        project = make_project(tmp_path, "hooks", cli, extra=code("release"))
        first = deploy(cli, project)
        urls = [u for u in first["webhook_urls"] if "/github/" in u]
        assert len(urls) == 1 and urls[0].endswith("/github/default"), first["webhook_urls"]
        url = urls[0].split(" ", 1)[1]
        shared = [w for w in first["webhooks"] if w["url"] == url]
        assert len(shared) == 1 and len(shared[0]["triggers"]) == 3, first["webhooks"]
        assert any("release" in label for label in shared[0]["triggers"]), shared
        assert any(w["url"].endswith("/hello/{name}") for w in first["webhooks"]), first

        created = provider_hook(first, "acme/api")
        assert created["action"] == "created" and created["url"] == url, created
        locked = provider_hook(first, "acme/locked")
        assert locked["action"] == "failed", locked
        assert "403" in locked["message"] and "by hand" in locked["message"], locked
        assert url in locked["message"], locked

        assert gh.auth_seen == {f"Bearer {TOKEN}"}
        [hook] = gh.hooks["acme/api"]
        assert hook["config"] == {"url": url, "content_type": "json", "secret": SECRET}
        assert hook["events"] == ["push"] and hook["name"] == "web" and hook["active"]
        gitlab_url = url.replace("/github/default", "/gitlab/default")
        assert provider_hook(first, "acme/api", "gitlab:default")["action"] == "created"
        [gl] = gh.gitlab_hooks
        assert gl["url"] == gitlab_url and gl["token"] == "gl-hook-token", gl
        assert gl["push_events"] and not gl["merge_requests_events"], gl

        # A push to main runs the main trigger only; to release, the release trigger only; a
        # ping is answered once; a push to another branch is acknowledged and ignored.
        assert push(url, "main").json() == {"ok": True}
        assert push(url, "release").json() == {"ok": True}
        ping = push(url, "main", kind="ping")
        assert ping.status_code == 200 and ping.json() == {"ok": True, "pong": True}
        other = push(url, "feature")
        assert other.status_code == 200 and "ignored" in other.json(), other.text

        # 2. The release trigger's filter changes and a pull-request trigger is added: the URL
        # stays, the webhook is updated (not created twice); the text output labels the URL.
        (project.path / "main.py").write_text(
            (project.path / "main.py").read_text().split("\n\nfrom floww import GitHub")[0]
            + code("stable", pull_requests=True)
        )
        again = floww_cli(cli, "deploy", "--yes", cwd=project.path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"POST {url}\n" in again.stdout, again.stdout
        assert "<- github:default push" in again.stdout and "stable" in again.stdout
        assert "<- github:default pull_request" in again.stdout, again.stdout
        assert "github:default webhook on acme/api: webhook now sends events" in again.stdout
        assert "Warning: github:default webhook on acme/locked not registered" in again.stderr
        [hook] = gh.hooks["acme/api"]
        assert hook["events"] == ["pull_request", "push"], hook
        assert hook["config"]["secret"] == SECRET and hook["config"]["url"] == url
        assert ("POST", "/github/repos/acme/api/hooks") in gh.calls
        assert [c for c in gh.calls if c[0] == "POST"] == [
            ("POST", "/github/repos/acme/api/hooks"),
            ("POST", "/gitlab/projects/acme%2Fapi/hooks"),
        ]
        [gl] = gh.gitlab_hooks
        assert gl["push_events"] and gl["merge_requests_events"] and not gl["pipeline_events"]

        assert push(url, "stable").json() == {"ok": True}
        assert push(url, "release").json().get("ignored"), "release no longer runs anything"

        # Deploying the same code again changes nothing at GitHub.
        same = deploy(cli, project)
        assert provider_hook(same, "acme/api")["action"] == "unchanged", same
        assert provider_hook(same, "acme/api", "gitlab:default")["action"] == "unchanged"

        # 3. The last GitHub trigger goes: the webhook is deleted.
        (project.path / "main.py").write_text(
            (project.path / "main.py").read_text().split("\n\nfrom floww import GitHub")[0]
        )
        last = deploy(cli, project)
        assert provider_hook(last, "acme/api")["action"] == "removed", last
        assert provider_hook(last, "acme/api", "gitlab:default")["action"] == "removed", last
        assert gh.hooks["acme/api"] == [] and gh.gitlab_hooks == []
        assert not [u for u in last["webhook_urls"] if "/github/" in u]

        # Every run was the trigger whose filter matched, once.
        with sql_repo(database_url) as repo:

            def settled() -> list[Any] | None:
                runs = executions_of(repo, first["workflow"]["id"])
                done = len(runs) >= 3 and all(e.status.is_final for e in runs)
                return runs if done else None

            runs = wait_until(settled, timeout=60)
            assert runs is not None
            time.sleep(0.5)
            runs = executions_of(repo, first["workflow"]["id"])
        assert all(e.status == ExecutionStatus.COMPLETED for e in runs), runs
        assert sorted(str(e.result) for e in runs) == sorted(
            str({"ran": b}) for b in ("main", "release", "stable")
        ), [e.result for e in runs]
