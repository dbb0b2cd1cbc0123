"""How ``HttpPlatform`` sends a dev session's answer: over the session's realtime connection when
the server offers the ``dev_reply`` RPC, over ``POST /api/dev/replies/<id>`` otherwise (an older
server, the connection down, the RPC not taken on this connection). The server is an
``httpx.MockTransport``; the subscription a stand-in that records its RPCs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from floww.adapters.http_client.client import ApiClient
from floww.adapters.http_client.platform import HttpPlatform
from floww.adapters.http_client.realtime_rpc import RpcNotSent
from floww.domain.errors import Conflict
from floww.domain.model import InvocationResult
from floww.ports.realtime import DEV_REPLY_RPC
from floww.sdk import wire

RESULT = InvocationResult(ok=True, result={"message": "hi"})


class Connection:
    """A subscription whose RPCs answer or fail as told, in order."""

    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, Any]] = []

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        pass

    def call(self, method: str, data: Any, timeout: float = 10.0) -> Any:
        self.calls.append((method, data))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return {}


def _platform(config: dict[str, Any], connection: Connection) -> tuple[HttpPlatform, list[str]]:
    posted: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/config":
            return httpx.Response(200, json={"realtime_url": "ws://rt/connection", **config})
        assert request.url.path.startswith("/api/dev/replies/")
        assert json.loads(request.content)["token"] == "tok"
        posted.append(request.url.path)
        return httpx.Response(204)

    http = httpx.Client(transport=httpx.MockTransport(server))
    api = ApiClient("http://floww.test", http=http, token="user-token")
    return HttpPlatform(api, subscriber=lambda url, token, channel: connection), posted


def test_an_offered_rpc_carries_the_answer() -> None:
    connection = Connection()
    platform, posted = _platform({"realtime_rpc": [DEV_REPLY_RPC]}, connection)
    platform.subscribe("wf_1")
    platform.reply("wf_1", "exe_1", "tok", RESULT)
    assert posted == []
    assert connection.calls == [
        (
            DEV_REPLY_RPC,
            {"execution_id": "exe_1", "token": "tok", "result": wire.result_to_wire(RESULT)},
        )
    ]


def test_a_server_that_offers_no_rpc_gets_the_answer_over_http() -> None:
    connection = Connection()
    platform, posted = _platform({}, connection)
    platform.subscribe("wf_1")
    platform.reply("wf_1", "exe_1", "tok", RESULT)
    assert (posted, connection.calls) == (["/api/dev/replies/exe_1"], [])


def test_an_rpc_that_did_not_leave_goes_over_http() -> None:
    connection = Connection(RpcNotSent("down"), None, RpcNotSent("no RPC", offered=False))
    platform, posted = _platform({"realtime_rpc": [DEV_REPLY_RPC]}, connection)
    platform.subscribe("wf_1")
    for execution_id in ("exe_1", "exe_2", "exe_3", "exe_4"):
        platform.reply("wf_1", execution_id, "tok", RESULT)
    # down for a moment: HTTP once, then the RPC again; not taken: HTTP from then on
    assert [data["execution_id"] for _, data in connection.calls] == ["exe_1", "exe_2", "exe_3"]
    assert posted == ["/api/dev/replies/exe_1", "/api/dev/replies/exe_3", "/api/dev/replies/exe_4"]


def test_a_refused_answer_is_not_sent_again_over_http() -> None:
    connection = Connection(Conflict("answered already"))
    platform, posted = _platform({"realtime_rpc": [DEV_REPLY_RPC]}, connection)
    platform.subscribe("wf_1")
    with pytest.raises(Conflict):
        platform.reply("wf_1", "exe_1", "tok", RESULT)
    assert posted == []
