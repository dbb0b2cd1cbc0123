"""The real image registries in the ``ImageRegistry`` contract suite.

- ``local-disk``: ``LocalImageRegistry`` over a temporary directory.
- ``v2-docker-registry``: ``RegistryV2Client`` against Debian's ``docker-registry`` (the
  reference distribution server) with filesystem storage in a temporary directory.
- ``v2-floww``: ``RegistryV2Client`` against floww's own ``/v2/`` endpoint, served by uvicorn,
  with push tokens from ``InMemoryIdentity``.

The two client factories skip the ``push_credentials`` tests: a v2 client has no credentials
to issue (the floww server does, and ``local-disk`` covers it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.adapters.local.image_registry import LocalImageRegistry
from floww.adapters.memory import InMemoryPlatformTokens, ManualClock
from floww.domain.errors import PermissionDenied, Unauthenticated
from floww.entrypoints.http.registry_v2 import registry_routes, token_from_authorization
from floww.ports.image_registry import ImageRegistry, RegistryCredentials

__all__ = [
    "REGISTRY_FACTORIES",
    "RegistryTokens",
    "docker_registry_server",
    "floww_registry_server",
    "serve_asgi",
]

DOCKER_REGISTRY = "/usr/bin/docker-registry"
START_TIMEOUT_SECONDS = 15.0


class RegistryTokens:
    """Push tokens from a ``PlatformTokens`` adapter, and the authorizer the ``/v2/`` endpoint
    calls: a registry token for ``repository`` may push and pull there, and nowhere else."""

    def __init__(self) -> None:
        self.tokens = InMemoryPlatformTokens(ManualClock())

    def issue(self, namespace_id: str, repository: str, ttl_seconds: int) -> str:
        return self.tokens.issue_registry_token(
            namespace_id=namespace_id, repository=repository, ttl_seconds=ttl_seconds
        )

    def authorize(self, header: str | None, repository: str, action: str) -> None:
        principal = self.tokens.verify(token_from_authorization(header) or "")
        if principal is None:
            raise Unauthenticated("not a registry token")
        if repository and f"push:{repository}" not in principal.scopes:
            raise PermissionDenied(f"this token may not {action} {repository}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


@contextlib.contextmanager
def serve_asgi(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with uvicorn on an ephemeral 127.0.0.1 port; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            sock.close()
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def floww_registry_server() -> Iterator[tuple[str, LocalImageRegistry, RegistryTokens]]:
    tokens = RegistryTokens()
    with tempfile.TemporaryDirectory() as root, contextlib.ExitStack() as stack:
        store = LocalImageRegistry(
            Path(root), registry_host="127.0.0.1", issue_push_token=tokens.issue
        )
        app = Starlette(routes=registry_routes(store, tokens.authorize))
        base_url = stack.enter_context(serve_asgi(app))
        yield base_url, store, tokens


@contextlib.contextmanager
def docker_registry_server() -> Iterator[str]:
    """Debian's ``docker-registry`` on an ephemeral port; skipped (failed when CI=true) when
    it is not installed."""
    binary = shutil.which("docker-registry") or DOCKER_REGISTRY
    if not Path(binary).is_file():
        _missing("docker-registry is not installed (apt-get install docker-registry)")
    with tempfile.TemporaryDirectory() as root:
        port = _free_port()
        config = Path(root) / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {root}/data\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
        process = subprocess.Popen(
            [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_serving(base_url, process)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()


def _wait_until_serving(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            pytest.fail(f"docker-registry exited with {process.returncode}: {stderr[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/v2/", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    pytest.fail(f"docker-registry did not answer at {base_url} in {START_TIMEOUT_SECONDS}s")


def _no_credentials_here(namespace_id: str, repository: str) -> RegistryCredentials:
    pytest.skip("push credentials are issued by the floww server; a v2 client has none to give")


def local_registry() -> Iterator[ImageRegistry]:
    with tempfile.TemporaryDirectory() as root:
        yield LocalImageRegistry(
            Path(root),
            registry_host="127.0.0.1:5000",
            issue_push_token=lambda ns, repo, ttl: secrets.token_urlsafe(32),
        )


def docker_registry_client() -> Iterator[ImageRegistry]:
    with docker_registry_server() as base_url, httpx.Client(timeout=30) as http:
        yield RegistryV2Client(base_url, http=http, issue_credentials=_no_credentials_here)


def floww_registry_client() -> Iterator[ImageRegistry]:
    with floww_registry_server() as (base_url, _, tokens), httpx.Client(timeout=30) as http:
        issued: dict[str, str] = {}

        def credentials(repository: str) -> tuple[str, str]:
            if repository not in issued:
                issued[repository] = tokens.issue("ns", repository, 900)
            return "floww", issued[repository]

        yield RegistryV2Client(
            base_url,
            http=http,
            credentials=credentials,
            issue_credentials=_no_credentials_here,
        )


REGISTRY_FACTORIES = [
    pytest.param(local_registry, id="local-disk"),
    pytest.param(docker_registry_client, id="v2-docker-registry", marks=pytest.mark.integration),
    pytest.param(floww_registry_client, id="v2-floww", marks=pytest.mark.integration),
]
