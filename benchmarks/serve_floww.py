"""The floww server under test: the embedded profile in a temporary home (or on the
PostgreSQL of ``--database-url``), with a workflow deployed on the local function host (image
built daemonless, pushed to the local registry) through the deploy API over HTTP.

The workflow is examples/hello (``url``); with ``--scaling 10,1000`` also, for each number N,
a generated workflow with N static webhooks and one with N templated ones (``static-N`` and
``templated-N``: the URL of one webhook in the middle; ``deploy-static-N``...: the seconds
the deploy call took). Prints these as one JSON line, then serves with the same uvicorn
settings as the baseline. ``--attach HOME`` serves an existing home and database without
deploying (a second server process). uvicorn runs with the HTTP protocol `floww serve` uses
(its connection limits, one send per response)."""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

from floww.adapters.local.image_builder import PipImageBuilder, embedded_target
from floww.bootstrap import ADMIN_EMAIL, Server, build_server
from floww.domain.model import CodeBundle
from floww.domain.usecases.api_keys import create_api_key
from floww.domain.usecases.deploy import runtime_repository
from floww.domain.usecases.deployments import create_runtime
from floww.domain.usecases.workflows import create_workflow
from floww.entrypoints.http.connection_limits import serving_protocol
from floww.sdk import wire
from floww.sdk.bundle import bundle_from_directory
from floww.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hello"

_GENERATED = '''"""{n} webhooks, one handler each."""

from floww import Builtin

builtin = Builtin()


def _handler(i):
    def handler(ctx, event):
        return {{"message": "hi " + event.path_params.get("name", "ada"), "hook": i}}

    handler.__name__ = handler.__qualname__ = f"hook_{{i}}"
    return handler


for _i in range({n}):
    builtin.webhook({path!r}.format(i=_i), methods=["POST"])(_handler(_i))
'''


def generated(n: int, templated: bool) -> tuple[CodeBundle, str]:
    """A workflow with ``n`` webhooks and the path of the request the bench sends."""
    pattern = "/hooks/{{name}}/h{i}" if templated else "/hooks/ada/h{i}"
    source = _GENERATED.format(n=n, path=pattern)
    return CodeBundle("main.py", {"main.py": source}), f"/hooks/ada/h{n // 2}"


def _serve_in_thread(server: uvicorn.Server) -> threading.Thread:
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return thread


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--scaling", type=lambda text: [int(n) for n in text.split(",") if n], default=[]
    )
    parser.add_argument("--attach", default="")
    args = parser.parse_args()
    home = Path(args.attach or tempfile.mkdtemp(prefix="floww-bench-"))
    settings = Settings.load(
        home=home, port=args.port, response_deadline_s=30.0, database_url=args.database_url
    )
    app = build_server(settings)
    config = uvicorn.Config(
        app.app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        http=serving_protocol(settings),  # as `floww serve` runs it
        proxy_headers=False,  # as `floww serve` runs it
    )
    server = uvicorn.Server(config)
    try:
        thread = _serve_in_thread(server)
        if args.attach:
            found: dict[str, object] = {"base": settings.base_url}
        else:
            found = _deploy(app, settings, home, args)
        app.freeze_heap()  # as `floww serve` does once started
        print(json.dumps(found), flush=True)
        thread.join()
    finally:
        app.close()


def _deploy(
    server: Server, settings: Settings, home: Path, args: argparse.Namespace
) -> dict[str, object]:
    login, registry = server.adapters.password_login, server.adapters.registry
    assert login is not None and registry is not None
    deps = server.deps
    admin = login(ADMIN_EMAIL, (home / "initial-admin-password").read_text().strip())
    namespace = deps.repo.list_namespaces(admin.id)[0]
    key, _ = create_api_key(deps, admin, namespace.id, "bench")
    built = PipImageBuilder(home / "build-cache").build(embedded_target(), [])
    repository = runtime_repository(namespace.id)
    registry.push(repository, built.tag, built.image)
    runtime = create_runtime(
        deps,
        admin,
        namespace_id=namespace.id,
        spec_hash=built.tag,
        image_ref=f"{repository}:{built.tag}",
    )
    deploy = _deployer(settings, key, runtime.id)
    hello = create_workflow(deps, admin, namespace.id, "hello")
    url, _ = deploy(hello.id, bundle_from_directory(EXAMPLE, "main.py"), "/hello/ada")
    found: dict[str, object] = {"url": url, "base": settings.base_url, "home": str(home)}
    for n in args.scaling:
        for kind in ("static", "templated"):
            flow = create_workflow(deps, admin, namespace.id, f"{kind}-{n}")
            code, path = generated(n, kind == "templated")
            found[f"{kind}-{n}"], found[f"deploy-{kind}-{n}"] = deploy(flow.id, code, path)
    return found


def _deployer(
    settings: Settings, key: str, runtime_id: str
) -> Callable[[str, CodeBundle, str], tuple[str, float]]:
    def deploy(workflow_id: str, code: CodeBundle, path: str) -> tuple[str, float]:
        """Deploy over HTTP: the webhook URL of ``path`` and the seconds the call took."""
        t0 = time.perf_counter()
        answer = httpx.post(
            f"{settings.base_url}/api/workflows/{workflow_id}/deployments",
            json={"runtime_id": runtime_id, "code": wire.code_to_wire(code)},
            headers={"Authorization": f"Bearer {key}"},
            timeout=600,
        )
        seconds = time.perf_counter() - t0
        if answer.status_code != 201:
            raise SystemExit(f"deploy failed: {answer.status_code} {answer.text[:500]}")
        return f"{settings.base_url}/webhook/{workflow_id}{path}", seconds

    return deploy


if __name__ == "__main__":
    main()
