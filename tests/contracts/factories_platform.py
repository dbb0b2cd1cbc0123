"""The ``Platform`` contract suite's adapters.

- ``in-process``: ``InProcessPlatform`` calling the server's use cases over in-memory adapters.
- ``http``: ``HttpPlatform`` (the CLI's client) against the real Starlette app, JSON API and
  realtime websocket, served by uvicorn on loopback over the same in-memory adapters.

Both sign in two users: a member of one namespace and a stranger with a namespace of their own.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from floww.adapters.api.client import ApiClient
from floww.adapters.api.platform import HttpPlatform
from floww.adapters.local.realtime import LocalRealtimeHub
from floww.adapters.memory import InMemoryAuth
from floww.adapters.memory.platform import InProcessPlatform
from floww.domain.model import Principal, RuntimeTarget
from floww.domain.usecases.access import may_subscribe
from floww.domain.usecases.deps import ServerDeps, ServerSettings
from floww.domain.usecases.webhooks import IncomingRequest, handle_webhook
from floww.domain.usecases.workflows import create_namespace
from floww.entrypoints.http.app import HttpServices, create_app
from floww.entrypoints.http.realtime import realtime_route
from floww.sdk.catalog import fields_for, provider_types
from floww.testing.contracts.platform import PlatformHarness
from tests.support import memory_deps

TARGET = RuntimeTarget("linux/amd64", "3.12")
REALTIME_PATH = "/connection/websocket"


def _users(deps: ServerDeps) -> tuple[InMemoryAuth, Principal, str, Principal, str]:
    auth = deps.auth
    assert isinstance(auth, InMemoryAuth)
    member = auth.create_user("member@example.com")
    stranger = auth.create_user("stranger@example.com")
    mine = create_namespace(deps, member, "members")
    theirs = create_namespace(deps, stranger, "strangers")
    return auth, member, mine.id, stranger, theirs.id


def in_process_platform() -> Iterator[PlatformHarness]:
    with memory_deps() as deps:
        _, member, mine, stranger, theirs = _users(deps)

        def platform(user: Principal) -> InProcessPlatform:
            return InProcessPlatform(deps, user, target=TARGET, provider_fields=fields_for)

        def with_token(token: str) -> InProcessPlatform:
            return platform(deps.auth.verify(token))

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
def _serving(sock: socket.socket, services: HttpServices) -> Iterator[None]:
    config = uvicorn.Config(create_app(services), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        hub = LocalRealtimeHub()
        settings = ServerSettings(base_url=base_url, response_deadline_s=5)
        with memory_deps(settings=settings, realtime=hub) as deps:
            auth, member, mine, stranger, theirs = _users(deps)
            services = HttpServices(
                deps=deps,
                provider_types=lambda: {name: fields_for(name) for name in provider_types()},
                fields_for=fields_for,
                runtime_target=TARGET,
                public_config={"realtime_url": base_url.replace("http", "ws") + REALTIME_PATH},
                extra_routes=[
                    realtime_route(
                        hub,
                        authenticate=auth.verify,
                        may_subscribe=lambda who, channel: may_subscribe(deps.repo, who, channel),
                        path=REALTIME_PATH,
                    )
                ],
            )
            with _serving(sock, services), httpx.Client(timeout=10) as http:

                def with_token(token: str) -> HttpPlatform:
                    return HttpPlatform(ApiClient(base_url, http=http, token=token))

                def platform(user: Principal) -> HttpPlatform:
                    return with_token(auth.issue_token(user))

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
