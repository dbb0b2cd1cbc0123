"""The floww server under test: the embedded profile in a temporary home, with examples/hello
deployed on the local function host (image built daemonless, pushed to the local registry).
Prints the webhook URL, then serves with the same uvicorn settings as the baseline."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import uvicorn

from floww.adapters.local.image_builder import PipImageBuilder, embedded_target
from floww.bootstrap import ADMIN_EMAIL, build_server
from floww.domain.usecases.deploy import runtime_repository
from floww.domain.usecases.deployments import DeploymentRequest, create_deployment, create_runtime
from floww.domain.usecases.workflows import create_workflow
from floww.sdk.bundle import bundle_from_directory
from floww.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hello"


def main(port: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="floww-bench-"))
    settings = Settings.load(home=home, port=port, response_deadline_s=30.0)
    server = build_server(settings)
    login = server.adapters.password_login
    assert login is not None and server.adapters.registry is not None
    admin = login(ADMIN_EMAIL, (home / "initial-admin-password").read_text().strip())
    deps = server.deps
    namespace = deps.repo.list_namespaces(admin.id)[0]
    workflow = create_workflow(deps, admin, namespace.id, "bench")
    built = PipImageBuilder(home / "build-cache").build(embedded_target(), [])
    repository = runtime_repository(namespace.id)
    server.adapters.registry.push(repository, built.tag, built.image)
    runtime = create_runtime(
        deps,
        admin,
        namespace_id=namespace.id,
        spec_hash=built.tag,
        image_ref=f"{repository}:{built.tag}",
    )
    code = bundle_from_directory(EXAMPLE, "main.py")
    create_deployment(deps, admin, DeploymentRequest(workflow.id, runtime.id, code))
    print(f"{settings.base_url}/webhook/{workflow.id}/hello/ada", flush=True)
    try:
        uvicorn.run(server.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        server.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
