"""The ``Platform`` contract suite's adapters.

- ``in-process``: ``InProcessPlatform`` calling the server's use cases over the memory profile.
- ``http``: ``HttpPlatform`` (the CLI's client) against the server's app as the composition root
  builds it for the memory profile (JSON API, webhooks, realtime websocket), served by uvicorn
  on loopback.

Both sign in two users: a member of one namespace and a stranger with a namespace of their own.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from floww.adapters.http_client.client import ApiClient
from floww.adapters.http_client.platform import HttpPlatform
from floww.adapters.memory import InMemoryIdentity
from floww.adapters.memory.platform import InProcessPlatform
from floww.bootstrap import http_services, memory_adapters, server_deps
from floww.domain.model import Principal, RuntimeTarget
from floww.domain.usecases.authentication import authenticate
from floww.domain.usecases.deps import ServerDeps, ServerSettings
from floww.domain.usecases.webhooks import IncomingRequest, handle_webhook
from floww.domain.usecases.workflows import create_namespace
from floww.entrypoints.http.app import create_app
from floww.sdk.catalog import fields_for
from floww.settings import Settings
from floww.testing.contracts.platform import PlatformHarness
from tests.support import memory_deps

TARGET = RuntimeTarget("linux/amd64", "3.12")


def _users(deps: ServerDeps) -> tuple[InMemoryIdentity, Principal, str, Principal, str]:
    identity = deps.identity
    assert isinstance(identity, InMemoryIdentity)
    member = identity.create_user("member@example.com")
    stranger = identity.create_user("stranger@example.com")
    mine = create_namespace(deps, member, "members")
    theirs = create_namespace(deps, stranger, "strangers")
    return identity, member, mine.id, stranger, theirs.id


def in_process_platform() -> Iterator[PlatformHarness]:
    with memory_deps() as deps:
        _, member, mine, stranger, theirs = _users(deps)

        def platform(user: Principal) -> InProcessPlatform:
            return InProcessPlatform(deps, user, target=TARGET, provider_fields=fields_for)

        def with_token(token: str) -> InProcessPlatform:
            return platform(authenticate(token, identity=deps.identity, tokens=deps.tokens))

        def send_webhook(url: str, body: bytes) -> tuple[int, Any]:
            # The URL is ``<base>/webhook/<workflow id>/<path>``: what the HTTP edge parses.
            workflow_id, _, path = url.split("/webhook/", 1)[1].partition("/")
            headers = {"content-type": "application/json"}
            request = IncomingRequest(workflow_id, "POST", "/" + path, headers, {}, body)
            response = handle_webhook(deps, request)
            return response.status, response.body

        yield PlatformHarness(
            platform(member), mine, platform(stranger), theirs, with_token, send_webhook
        )


@contextlib.contextmanager
def _serving(sock: socket.socket, app: Any) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def http_platform() -> Iterator[PlatformHarness]:
    with (
        socket.socket() as sock,
        tempfile.TemporaryDirectory(prefix="floww-home-") as home,
        ThreadPoolExecutor(4) as executor,
    ):
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        settings = Settings(home=Path(home), port=port, profile="memory", response_deadline_s=5)
        adapters = memory_adapters()
        server = ServerSettings(base_url=settings.base_url, response_deadline_s=5)
        deps = server_deps(adapters, server, executor)
        identity, member, mine, stranger, theirs = _users(deps)
        app = create_app(http_services(settings, adapters, deps))
        with _serving(sock, app), httpx.Client(timeout=10) as http:

            def with_token(token: str) -> HttpPlatform:
                return HttpPlatform(ApiClient(settings.base_url, http=http, token=token))

            def platform(user: Principal) -> HttpPlatform:
                return with_token(identity.issue_token(user))

            def send_webhook(url: str, body: bytes) -> tuple[int, Any]:
                headers = {"content-type": "application/json"}
                answer = http.post(url, content=body, headers=headers)
                return answer.status_code, answer.json() if answer.content else None

            yield PlatformHarness(
                platform(member), mine, platform(stranger), theirs, with_token, send_webhook
            )


PLATFORM_FACTORIES = [
    pytest.param(in_process_platform, id="in-process"),
    pytest.param(http_platform, id="http", marks=pytest.mark.integration),
]
