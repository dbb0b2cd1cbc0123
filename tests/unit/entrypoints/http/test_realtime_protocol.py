"""The Centrifugo JSON protocol subset of the realtime endpoint, and the hub's bounds: frames in,
frames out, without a network."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from floww.adapters.local.hub import LocalRealtimeHub
from floww.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated, Unavailable
from floww.domain.model import Principal
from floww.entrypoints.http.centrifuge_edge import (
    ClientSession,
    Disconnect,
    decode_commands,
    encode_frame,
    realtime_route,
)
from floww.entrypoints.http.dev_rpc import RpcHandler
from floww.entrypoints.http.outbox import Outbox

ALICE = Principal(id="user_alice", namespace_id="ns_a")
MINE, THEIRS = "workflow:wf_a", "workflow:wf_b"


def authenticate(token: str) -> Principal:
    if token == "good":
        return ALICE
    if token == "db-down":
        raise Unavailable("database unreachable")
    raise Unauthenticated("unknown token")


def may_subscribe(principal: Principal, channel: str) -> bool:
    return principal.namespace_id == "ns_a" and channel == MINE


class Wire:
    """A session with its outbox: feed it messages, read back what it would send."""

    def __init__(self, hub: LocalRealtimeHub, max_pending: int = 100, **session: Any) -> None:
        self.hub = hub
        self.outbox = Outbox(asyncio.get_running_loop(), max_pending)
        session.setdefault("authenticate", authenticate)
        self.session = ClientSession(
            hub, self.outbox, may_subscribe=may_subscribe, ping_interval=0.2, **session
        )

    async def send(self, *commands: dict[str, Any]) -> None:
        await self.session.handle("\n".join(json.dumps(c) for c in commands))

    async def replies(self) -> list[dict[str, Any]]:
        items = await asyncio.wait_for(self.outbox.take(), timeout=2)
        assert items is not None
        return [json.loads(line) for line in encode_frame(items).split("\n")]


def run(test: Callable[[Wire], Awaitable[None]], **session: Any) -> None:
    """``session``: more of ``ClientSession``'s arguments (``rpc``, ``authenticate``, ...)."""

    async def main() -> None:
        wire = Wire(LocalRealtimeHub(), **session)
        try:
            await test(wire)
        finally:
            wire.session.close()

    asyncio.run(main())


# frames ------------------------------------------------------------------------------------


def test_a_message_carries_newline_separated_commands() -> None:
    text = '{"id":1,"connect":{"token":"t"}}\n{"id":2,"subscribe":{"channel":"c"}}\n\n{}\n'
    assert decode_commands(text) == [
        {"id": 1, "connect": {"token": "t"}},
        {"id": 2, "subscribe": {"channel": "c"}},
        {},
    ]


@pytest.mark.parametrize("text", ['{"id":1,', "[1, 2]", '"ping"', '{"id":1}\nnot json'])
def test_malformed_messages_are_a_bad_request(text: str) -> None:
    with pytest.raises(Disconnect) as caught:
        decode_commands(text)
    assert (caught.value.code, caught.value.reason) == (3501, "bad request")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(st.lists(st.dictionaries(st.text(), json_values, max_size=4), max_size=5))
def test_commands_round_trip_through_a_batch(commands: list[dict[str, Any]]) -> None:
    assert decode_commands("\n".join(json.dumps(c) for c in commands)) == commands


def test_a_batch_encodes_publications_as_pushes_and_frames_as_they_are() -> None:
    frame = encode_frame(
        [(None, '{"id":1,"subscribe":{}}'), ("workflow:x", '{"n":1}'), (None, "{}")]
    )
    assert [json.loads(line) for line in frame.split("\n")] == [
        {"id": 1, "subscribe": {}},
        {"push": {"channel": "workflow:x", "pub": {"data": {"n": 1}}}},
        {},
    ]


# sessions ----------------------------------------------------------------------------------


def test_connect_with_a_good_token_answers_with_ping_and_pong() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good", "name": "python"}})
        [reply] = await wire.replies()
        assert reply["id"] == 1
        assert reply["connect"]["client"] == wire.session.client_id
        assert reply["connect"]["ping"] == 1 and reply["connect"]["pong"] is True
        assert wire.session.principal == ALICE

    run(test)


@pytest.mark.parametrize("connect", [{"token": "forged"}, {"token": ""}, {}])
def test_a_bad_token_ends_the_connection_as_invalid(connect: dict[str, Any]) -> None:
    async def test(wire: Wire) -> None:
        with pytest.raises(Disconnect) as caught:
            await wire.send({"id": 1, "connect": connect})
        assert caught.value.code == 3500
        assert wire.session.principal is None

    run(test)


def test_an_unreachable_auth_backend_is_a_temporary_error() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "db-down"}})
        [reply] = await wire.replies()
        assert reply == {
            "id": 1,
            "error": {"code": 100, "message": "internal server error", "temporary": True},
        }

    run(test)


@pytest.mark.parametrize(
    "command",
    [{"id": 1, "subscribe": {"channel": MINE}}, {"subscribe": {"channel": MINE}}, {"id": "x"}],
)
def test_commands_before_connect_or_without_id_are_a_bad_request(command: dict[str, Any]) -> None:
    async def test(wire: Wire) -> None:
        with pytest.raises(Disconnect) as caught:
            await wire.send(command)
        assert caught.value.code == 3501
        assert wire.hub.subscriber_count(MINE) == 0

    run(test)


def test_a_second_connect_is_a_bad_request() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        with pytest.raises(Disconnect) as caught:
            await wire.send({"id": 2, "connect": {"token": "good"}})
        assert caught.value.code == 3501

    run(test)


def test_connect_and_subscribe_in_one_message_are_answered_in_order() -> None:
    async def test(wire: Wire) -> None:
        await wire.send(
            {"id": 1, "connect": {"token": "good"}},
            {"id": 2, "subscribe": {"channel": MINE, "flag": 1}},
        )
        replies = await wire.replies()
        assert [r["id"] for r in replies] == [1, 2]
        assert replies[1] == {"id": 2, "subscribe": {}}
        assert wire.hub.subscriber_count(MINE) == 1

    run(test)


def test_publications_follow_the_subscribe_reply() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        await wire.send({"id": 2, "subscribe": {"channel": MINE}})
        wire.hub.publish(MINE, {"type": "event", "n": 1})
        wire.hub.publish(THEIRS, {"type": "event", "n": 2})
        replies = await wire.replies()
        assert replies[-2:] == [
            {"id": 2, "subscribe": {}},
            {"push": {"channel": MINE, "pub": {"data": {"type": "event", "n": 1}}}},
        ]

    run(test)


def test_a_channel_the_principal_may_not_see_is_permission_denied() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        await wire.send({"id": 2, "subscribe": {"channel": THEIRS}})
        replies = await wire.replies()
        assert replies[-1] == {"id": 2, "error": {"code": 103, "message": "permission denied"}}
        assert wire.hub.subscriber_count(THEIRS) == 0

    run(test)


def test_subscribing_twice_is_already_subscribed_and_unsubscribe_detaches() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        await wire.send(
            {"id": 2, "subscribe": {"channel": MINE}},
            {"id": 3, "subscribe": {"channel": MINE}},
            {"id": 4, "unsubscribe": {"channel": MINE}},
        )
        replies = await wire.replies()
        assert replies[-2:] == [
            {"id": 3, "error": {"code": 105, "message": "already subscribed"}},
            {"id": 4, "unsubscribe": {}},
        ]
        assert wire.hub.subscriber_count(MINE) == 0

    run(test)


def test_unsupported_and_unknown_commands_get_errors() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        await wire.send(
            {"id": 2, "publish": {"channel": MINE, "data": {}}},
            {"id": 3, "teleport": {}},
        )
        replies = await wire.replies()
        assert replies[-2:] == [
            {"id": 2, "error": {"code": 108, "message": "not available"}},
            {"id": 3, "error": {"code": 104, "message": "method not found"}},
        ]

    run(test)


def test_without_rpc_handlers_an_rpc_is_not_available() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        await wire.send({"id": 2, "rpc": {"method": "dev_reply", "data": {}}})
        replies = await wire.replies()
        assert replies[-1] == {"id": 2, "error": {"code": 108, "message": "not available"}}

    run(test)


def test_an_rpc_is_answered_by_the_connections_handler() -> None:
    made: list[Principal] = []

    def handlers(principal: Principal) -> RpcHandler:
        made.append(principal)

        def handle(method: str, data: Any) -> Any:
            if data == "taken":
                raise Conflict("answered already")
            if data == "down":
                raise Unavailable("database unreachable")
            if method != "echo":
                raise NotFound("RPC method", method)
            return {"echo": data}

        return handle

    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        await wire.send(
            {"id": 2, "rpc": {"method": "echo", "data": {"n": 1}}},
            {"id": 3, "rpc": {"method": "echo", "data": "taken"}},
            {"id": 4, "rpc": {"method": "echo", "data": "down"}},
            {"id": 5, "rpc": {"method": "other"}},
        )
        replies: list[dict[str, Any]] = []
        while len(replies) < 5:
            replies += await wire.replies()
        assert replies[1:] == [
            {"id": 2, "rpc": {"data": {"echo": {"n": 1}}}},
            {"id": 3, "error": {"code": 409, "message": "answered already"}},
            {"id": 4, "error": {"code": 503, "message": "database unreachable", "temporary": True}},
            {"id": 5, "error": {"code": 404, "message": "RPC method other not found"}},
        ]
        assert made == [ALICE]  # one handler per connection, made for its principal
        with pytest.raises(Disconnect) as caught:
            await wire.send({"id": 6, "rpc": {"method": 7}})
        assert caught.value.code == 3501

    run(test, rpc=handlers)


def test_an_rpc_needs_the_connections_token_to_still_stand() -> None:
    revoked: set[str] = set()

    def current(token: str) -> Principal:
        if token in revoked:
            raise Unauthenticated("this login has ended")
        return authenticate(token)

    def handlers(principal: Principal) -> RpcHandler:
        return lambda method, data: {"ok": data}

    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        await wire.send({"id": 2, "rpc": {"method": "m", "data": 1}})
        assert (await wire.replies())[-1] == {"id": 2, "rpc": {"data": {"ok": 1}}}
        revoked.add("good")
        await wire.send({"id": 3, "rpc": {"method": "m", "data": 2}})
        revoked.clear()  # once refused, the connection carries no RPC any more
        await wire.send({"id": 4, "rpc": {"method": "m", "data": 3}})
        replies: list[dict[str, Any]] = []
        while len(replies) < 2:
            replies += await wire.replies()
        assert replies == [
            {"id": 3, "error": {"code": 101, "message": "unauthorized"}},
            {"id": 4, "error": {"code": 101, "message": "unauthorized"}},
        ]

    # checked before every RPC
    run(test, authenticate=current, rpc=handlers, rpc_auth_ttl_s=0)


def test_an_empty_command_is_a_pong() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        wire.session.heard_from = False
        await wire.send({})
        assert wire.session.heard_from

    run(test)


def test_closing_the_session_detaches_every_channel() -> None:
    async def test(wire: Wire) -> None:
        await wire.send({"id": 1, "connect": {"token": "good"}})
        await wire.send({"id": 2, "subscribe": {"channel": MINE}})
        wire.session.close()
        assert wire.hub.subscriber_count(MINE) == 0
        assert await wire.outbox.take() is None

    run(test)


# bounds ------------------------------------------------------------------------------------


def test_an_outbox_that_falls_behind_overflows_and_is_dropped() -> None:
    async def main() -> None:
        hub = LocalRealtimeHub()
        outbox = Outbox(asyncio.get_running_loop(), max_pending=3)
        hub.attach(MINE, outbox)
        for n in range(4):
            hub.publish(MINE, {"n": n})
        assert outbox.overflowed
        assert await outbox.take() is None
        assert hub.subscriber_count(MINE) == 0

    asyncio.run(main())


def test_an_outbox_delivers_in_order_what_it_holds() -> None:
    async def main() -> None:
        hub = LocalRealtimeHub()
        outbox = Outbox(asyncio.get_running_loop(), max_pending=3)
        hub.attach(MINE, outbox)
        for n in range(3):
            hub.publish(MINE, {"n": n})
        assert await outbox.take() == [(MINE, f'{{"n":{n}}}') for n in range(3)]
        assert not outbox.overflowed

    asyncio.run(main())


def test_a_subscription_that_falls_behind_is_closed() -> None:
    hub = LocalRealtimeHub(max_pending=2)
    slow, fast = hub.subscribe(MINE), hub.subscribe(MINE)
    for n in range(3):
        hub.publish(MINE, {"n": n})
        assert fast.get(timeout=1) == {"n": n}
    assert slow.overflowed and slow.closed
    assert slow.get(timeout=0.05) is None
    assert hub.subscriber_count(MINE) == 1
    fast.close()


def test_a_message_that_is_not_json_is_invalid_input() -> None:
    hub = LocalRealtimeHub()
    with pytest.raises(InvalidInput):
        hub.publish(MINE, {"when": object()})


# the endpoint, through Starlette's in-memory test client ----------------------------------


@pytest.fixture
def endpoint() -> Iterator[TestClient]:
    route = realtime_route(
        LocalRealtimeHub(), authenticate=authenticate, may_subscribe=may_subscribe
    )
    with TestClient(Starlette(routes=[route])) as client:
        yield client


def closed_with(endpoint: TestClient, *messages: str | bytes) -> int:
    with endpoint.websocket_connect("/connection/websocket") as ws:
        for message in messages:
            if isinstance(message, bytes):
                ws.send_bytes(message)
            else:
                ws.send_text(message)
        with pytest.raises(WebSocketDisconnect) as caught:
            while True:
                ws.receive_text()
    return caught.value.code


def test_the_endpoint_closes_a_bad_token_with_invalid_token(endpoint: TestClient) -> None:
    assert closed_with(endpoint, '{"id":1,"connect":{"token":"forged"}}') == 3500


@pytest.mark.parametrize("message", ["{not json", b"\x00binary"])
def test_the_endpoint_closes_malformed_messages_as_bad_request(
    endpoint: TestClient, message: str | bytes
) -> None:
    assert closed_with(endpoint, message) == 3501


def test_the_endpoint_answers_connect_and_subscribe(endpoint: TestClient) -> None:
    with endpoint.websocket_connect("/connection/websocket") as ws:
        ws.send_text('{"id":1,"connect":{"token":"good"}}\n{"id":2,"subscribe":{"channel":"x"}}')
        lines: list[dict[str, Any]] = []
        while len(lines) < 2:
            lines.extend(json.loads(line) for line in ws.receive_text().split("\n"))
    assert lines[0]["id"] == 1 and lines[0]["connect"]["pong"] is True
    assert lines[1] == {"id": 2, "error": {"code": 103, "message": "permission denied"}}
