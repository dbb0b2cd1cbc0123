"""The embedded realtime endpoint, served by uvicorn on 127.0.0.1, against the real
``centrifuge-python`` client: what a dev session does, and tenant isolation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
import uvicorn
import websockets
from centrifuge import (
    Client,
    ClientEventHandler,
    DisconnectedContext,
    PublicationContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)
from starlette.applications import Starlette

from floww.adapters.http_client.centrifuge_subscription import CentrifugeSubscription
from floww.adapters.inprocess import SystemClock
from floww.adapters.local.hub import LocalRealtimeHub
from floww.adapters.memory import InMemoryIdentity, InMemoryWorkflowRepo
from floww.domain.errors import NotFound, PermissionDenied, Unauthenticated, Unavailable
from floww.domain.model import Member, Namespace, Principal, Workflow
from floww.domain.usecases.access import Action, require_workflow
from floww.entrypoints.http.centrifuge_edge import realtime_route
from floww.ports.realtime import workflow_channel

pytestmark = pytest.mark.integration

PING_INTERVAL = 0.2


@attrs.frozen
class Server:
    hub: LocalRealtimeHub
    url: str
    token_a: str  # a member of namespace A, owner of workflow wf_a
    token_b: str  # a member of namespace B, owner of workflow wf_b


def _tenants() -> tuple[InMemoryIdentity, InMemoryWorkflowRepo, str, str]:
    auth, repo = InMemoryIdentity(SystemClock()), InMemoryWorkflowRepo()
    now = datetime.now(UTC)
    tokens = []
    for name in ("a", "b"):
        user = auth.create_user(f"{name}@example.com")
        repo.create_namespace(Namespace(id=f"ns_{name}", name=name, created_at=now))
        repo.add_member(Member(namespace_id=f"ns_{name}", user_id=user.id))
        repo.create_workflow(
            Workflow(id=f"wf_{name}", namespace_id=f"ns_{name}", name="w", created_at=now)
        )
        tokens.append(auth.issue_token(user))
    return auth, repo, tokens[0], tokens[1]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    auth, repo, token_a, token_b = _tenants()

    def may_subscribe(principal: Principal, channel: str) -> bool:
        kind, _, workflow_id = channel.partition(":")
        if kind != "workflow":
            return False
        try:
            require_workflow(repo, principal, workflow_id, Action.READ)
        except (NotFound, PermissionDenied):
            return False
        return True

    hub = LocalRealtimeHub()
    route = realtime_route(
        hub, authenticate=auth.verify, may_subscribe=may_subscribe, ping_interval=PING_INTERVAL
    )
    app = Starlette(routes=[route])
    with serving(app) as port:
        yield Server(hub, f"ws://127.0.0.1:{port}/connection/websocket", token_a, token_b)


@contextlib.contextmanager
def serving(app: Starlette, port: int = 0) -> Iterator[int]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a background thread; yields the port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not uv.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


def wait_until(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# the centrifuge-python client on its own ----------------------------------------------------


class Recorder(ClientEventHandler, SubscriptionEventHandler):  # type: ignore[misc]
    """Client and subscription events of one connection, for the test to look at."""

    def __init__(self) -> None:
        self.publications: asyncio.Queue[Any] = asyncio.Queue()
        self.disconnected: asyncio.Future[DisconnectedContext] = asyncio.Future()
        self.unsubscribed: asyncio.Future[UnsubscribedContext] = asyncio.Future()
        self.connecting_after_connect = 0

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        if not self.disconnected.done():
            self.disconnected.set_result(ctx)

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        if not self.unsubscribed.done():
            self.unsubscribed.set_result(ctx)

    async def on_publication(self, ctx: PublicationContext) -> None:
        await self.publications.put(ctx.pub.data)


def test_the_client_connects_subscribes_and_receives_in_order(server: Server) -> None:
    channel = workflow_channel("wf_a")

    async def main() -> list[Any]:
        events = Recorder()
        client = Client(server.url, events=events, token=server.token_a)
        subscription = client.new_subscription(channel, events=events)
        await client.connect()
        await subscription.subscribe()
        await subscription.ready(timeout=5)
        for n in range(5):
            await asyncio.to_thread(server.hub.publish, channel, {"type": "event", "n": n})
        got = [await asyncio.wait_for(events.publications.get(), 5) for _ in range(5)]
        await client.disconnect()
        return got

    assert asyncio.run(main()) == [{"type": "event", "n": n} for n in range(5)]
    wait_until(lambda: server.hub.subscriber_count(channel) == 0)


def test_the_client_reports_a_bad_token_as_invalid(server: Server) -> None:
    async def main() -> DisconnectedContext:
        events = Recorder()
        client = Client(server.url, events=events, token="flw_forged")
        await client.connect()
        return await asyncio.wait_for(events.disconnected, 5)

    disconnected = asyncio.run(main())
    assert (disconnected.code, disconnected.reason) == (3500, "invalid token")


def test_a_tenant_cannot_subscribe_to_another_tenants_workflow(server: Server) -> None:
    async def main() -> UnsubscribedContext:
        events = Recorder()
        client = Client(server.url, events=events, token=server.token_a)
        subscription = client.new_subscription(workflow_channel("wf_b"), events=events)
        await client.connect()
        await subscription.subscribe()
        try:
            return await asyncio.wait_for(events.unsubscribed, 5)
        finally:
            await client.disconnect()

    unsubscribed = asyncio.run(main())
    assert (unsubscribed.code, unsubscribed.reason) == (103, "permission denied")
    assert server.hub.subscriber_count(workflow_channel("wf_b")) == 0


def test_pings_keep_an_idle_connection_alive(server: Server) -> None:
    channel = workflow_channel("wf_a")

    async def main() -> tuple[bool, Any]:
        events = Recorder()
        # The server announces pings every second (the protocol's unit); waiting at most 0.5 s
        # more, a client that missed pings for 1.5 s would drop the connection and reconnect.
        client = Client(server.url, events=events, token=server.token_a, max_server_ping_delay=0.5)
        subscription = client.new_subscription(channel, events=events)
        await client.connect()
        await subscription.subscribe()
        await subscription.ready(timeout=5)
        first_client_id = client.client_id
        await asyncio.sleep(3)  # idle, but for the server's pings and the client's pongs
        server.hub.publish(channel, {"still": "here"})
        got = await asyncio.wait_for(events.publications.get(), 5)
        same = client.client_id == first_client_id and not events.disconnected.done()
        await client.disconnect()
        return same, got

    assert asyncio.run(main()) == (True, {"still": "here"})


def test_a_client_that_stops_answering_pings_is_disconnected(server: Server) -> None:
    async def main() -> tuple[int | None, list[Any]]:
        frames: list[Any] = []
        async with websockets.connect(server.url) as ws:
            await ws.send(json.dumps({"id": 1, "connect": {"token": server.token_a}}))
            try:
                async with asyncio.timeout(PING_INTERVAL * 20):
                    async for frame in ws:  # read, but never answer a ping
                        frames.extend(json.loads(line) for line in str(frame).split("\n"))
            except websockets.ConnectionClosed:
                pass
            return ws.close_code, frames

    close_code, frames = asyncio.run(main())
    assert close_code == 3012
    assert frames[0]["id"] == 1 and "connect" in frames[0]
    assert {} in frames  # it was pinged before it was dropped


def test_a_hundred_messages_from_another_thread_arrive_in_order(server: Server) -> None:
    channel = workflow_channel("wf_a")
    subscription = CentrifugeSubscription(server.url, server.token_a, channel, connect_timeout=5)
    try:
        publisher = threading.Thread(
            target=lambda: [server.hub.publish(channel, {"n": n}) for n in range(100)]
        )
        publisher.start()
        publisher.join(timeout=10)
        got = [subscription.get(timeout=5) for _ in range(100)]
        assert got == [{"n": n} for n in range(100)]
        assert subscription.get(timeout=0.05) is None
    finally:
        subscription.close()
    wait_until(lambda: server.hub.subscriber_count(channel) == 0)


# the Subscription port over the websocket ------------------------------------------------


def test_a_subscription_refuses_a_bad_token(server: Server) -> None:
    with pytest.raises(Unauthenticated, match="refused the token"):
        CentrifugeSubscription(server.url, "flw_forged", workflow_channel("wf_a"))


def test_a_subscription_to_another_tenants_workflow_is_denied(server: Server) -> None:
    with pytest.raises(PermissionDenied, match="workflow:wf_a"):
        CentrifugeSubscription(server.url, server.token_b, workflow_channel("wf_a"))


def test_a_subscription_to_no_server_is_unavailable() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/connection/websocket"
    with pytest.raises(Unavailable, match="could not subscribe"):
        CentrifugeSubscription(url, "t", workflow_channel("wf_a"), connect_timeout=0.5)


def test_a_subscription_to_a_url_that_is_no_websocket_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="isn't a valid URI"):
        CentrifugeSubscription("http://127.0.0.1:1/x", "t", "c", connect_timeout=0.5)


def test_close_ends_the_subscription_and_wakes_a_reader(server: Server) -> None:
    channel = workflow_channel("wf_b")
    subscription = CentrifugeSubscription(server.url, server.token_b, channel)
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(subscription.get(timeout=5)))
    reader.start()
    subscription.close()
    reader.join(timeout=2)
    assert got == [None]
    wait_until(lambda: server.hub.subscriber_count(channel) == 0)
    server.hub.publish(channel, {"n": 1})
    assert subscription.get(timeout=0.05) is None


def test_publish_to_receive_latency(server: Server) -> None:
    """Not a timing assertion: prints p50/p99 of publish -> ``get`` through the websocket."""
    channel = workflow_channel("wf_a")
    subscription = CentrifugeSubscription(server.url, server.token_a, channel)
    latencies = []
    try:
        for n in range(500):
            started = time.perf_counter()
            server.hub.publish(channel, {"n": n})
            assert subscription.get(timeout=5) == {"n": n}
            latencies.append(time.perf_counter() - started)
    finally:
        subscription.close()
    cuts = statistics.quantiles(latencies, n=100)
    print(f"\nrealtime publish->receive: p50 {cuts[49] * 1e3:.2f} ms, p99 {cuts[98] * 1e3:.2f} ms")


def test_a_subscription_resumes_after_the_server_restarts() -> None:
    hub = LocalRealtimeHub()
    route = realtime_route(
        hub, authenticate=lambda token: Principal(id="u"), may_subscribe=lambda p, c: True
    )
    app = Starlette(routes=[route])
    channel = workflow_channel("wf_restart")
    with serving(app) as port:
        url = f"ws://127.0.0.1:{port}/connection/websocket"
        subscription = CentrifugeSubscription(url, "t", channel)
    try:
        wait_until(lambda: hub.subscriber_count(channel) == 0)
        with serving(app, port):
            wait_until(lambda: hub.subscriber_count(channel) == 1, timeout=15)
            hub.publish(channel, {"after": "restart"})
            assert subscription.get(timeout=5) == {"after": "restart"}
            assert subscription.failure is None
    finally:
        subscription.close()
