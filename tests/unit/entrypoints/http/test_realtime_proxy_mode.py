"""The realtime endpoint playing Centrifugo: connect and subscribe become proxy requests shaped
as Centrifugo sends them, and the proxy's ``result`` / ``error`` / ``disconnect`` decide, as
Centrifugo would. Frames in, frames out, with a scripted proxy and without a network."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from floww.adapters.local.hub import LocalRealtimeHub
from floww.domain.errors import Unavailable
from floww.domain.model import Principal
from floww.entrypoints.http.centrifuge_edge import ClientSession, Disconnect, encode_frame
from floww.entrypoints.http.outbox import Outbox


class ScriptedProxy:
    """Answers with what the test scripted, and records every request with its headers."""

    def __init__(self, connect: Any, subscribe: Any = None) -> None:
        self.answers = {"connect": connect, "subscribe": subscribe}
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    def _answer(self, kind: str, request: dict[str, Any], headers: Mapping[str, str]) -> Any:
        self.requests.append((kind, request, dict(headers)))
        answer = self.answers[kind]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def connect(self, request: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        return self._answer("connect", request, headers)  # type: ignore[no-any-return]

    def subscribe(self, request: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        return self._answer("subscribe", request, headers)  # type: ignore[no-any-return]


def _never(*_: Any) -> Principal:
    raise AssertionError("proxy mode never checks tokens itself")


HEADERS = {"authorization": "Bearer tok", "user-agent": "test"}


def run(proxy: ScriptedProxy, test: Callable[[ClientSession, Outbox], Awaitable[None]]) -> None:
    async def main() -> None:
        outbox = Outbox(asyncio.get_running_loop(), 100)
        session = ClientSession(
            LocalRealtimeHub(), outbox, authenticate=_never, may_subscribe=_never,
            ping_interval=1.0, proxy=proxy, headers=HEADERS,
        )  # fmt: skip
        try:
            await test(session, outbox)
        finally:
            session.close()

    asyncio.run(main())


async def send(session: ClientSession, command: dict[str, Any]) -> None:
    await session.handle(json.dumps(command))


async def replies(outbox: Outbox) -> list[dict[str, Any]]:
    items = await asyncio.wait_for(outbox.take(), timeout=2)
    assert items is not None
    return [json.loads(line) for line in encode_frame(items).split("\n")]


def test_connect_and_subscribe_are_asked_of_the_proxies_as_centrifugo_asks() -> None:
    proxy = ScriptedProxy({"result": {"user": "u1"}}, {"result": {}})

    async def test(session: ClientSession, outbox: Outbox) -> None:
        await send(session, {"id": 1, "connect": {"name": "py", "data": {"x": 1}}})
        assert "connect" in (await replies(outbox))[0]
        await send(session, {"id": 2, "subscribe": {"channel": "workflow:wf"}})
        assert (await replies(outbox))[0] == {"id": 2, "subscribe": {}}
        assert session.user == "u1" and session.channels == {"workflow:wf"}

    run(proxy, test)
    (kind, connect, headers), (_, subscribe, _) = proxy.requests
    assert kind == "connect" and headers == HEADERS
    shape = {"transport": "websocket", "protocol": "json", "encoding": "json"}
    assert connect == {"client": connect["client"], **shape, "name": "py", "data": {"x": 1}}
    assert subscribe == {
        "client": connect["client"],
        **shape,
        "user": "u1",
        "channel": "workflow:wf",
    }


def test_a_proxy_disconnect_closes_with_its_code() -> None:
    proxy = ScriptedProxy({"disconnect": {"code": 4501, "reason": "unauthorized"}})

    async def test(session: ClientSession, outbox: Outbox) -> None:
        with pytest.raises(Disconnect) as raised:
            await send(session, {"id": 1, "connect": {}})
        assert (raised.value.code, raised.value.reason) == (4501, "unauthorized")
        assert not session.connected

    run(proxy, test)


def test_a_proxy_error_is_the_replys_error() -> None:
    proxy = ScriptedProxy({"result": {"user": "u1"}}, {"error": {"code": 403, "message": "no"}})

    async def test(session: ClientSession, outbox: Outbox) -> None:
        await send(session, {"id": 1, "connect": {}})
        await replies(outbox)
        await send(session, {"id": 2, "subscribe": {"channel": "workflow:theirs"}})
        assert (await replies(outbox))[0] == {"id": 2, "error": {"code": 403, "message": "no"}}
        assert session.channels == set()

    run(proxy, test)


def test_a_failing_proxy_is_a_temporary_internal_error() -> None:
    proxy = ScriptedProxy(Unavailable("proxy down"))

    async def test(session: ClientSession, outbox: Outbox) -> None:
        await send(session, {"id": 1, "connect": {}})
        error = (await replies(outbox))[0]["error"]
        assert error == {"code": 100, "message": "internal server error", "temporary": True}
        assert not session.connected

    run(proxy, test)


def test_a_connect_token_is_refused_as_centrifugo_would_check_it_as_its_own_jwt() -> None:
    proxy = ScriptedProxy({"result": {"user": "u1"}})

    async def test(session: ClientSession, outbox: Outbox) -> None:
        with pytest.raises(Disconnect) as raised:
            await send(session, {"id": 1, "connect": {"token": "tok"}})
        assert raised.value.code == 3500

    run(proxy, test)
    assert proxy.requests == []


@pytest.mark.parametrize("code", ["4501", None, -1, True, 4.5])
def test_a_proxy_code_that_is_not_a_number_is_read_as_centrifugo_reads_it(code: Any) -> None:
    proxy = ScriptedProxy({"disconnect": {"code": code, "reason": "x"}})

    async def test(session: ClientSession, outbox: Outbox) -> None:
        with pytest.raises(Disconnect) as raised:
            await send(session, {"id": 1, "connect": {}})
        assert raised.value.code == 3000

    run(proxy, test)
