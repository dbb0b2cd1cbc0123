"""``floww dev`` end to end with Centrifugo carrying the live events
(``FLOWW_REALTIME=centrifugo``; identity stays local): two ``floww serve`` replicas on one
PostgreSQL share one Centrifugo, played by the embedded hub on loopback
(``tests.centrifugo_standin``), whose connect and subscribe proxies point at replica A.

A webhook sent to either replica reaches the local handler of a dev session connected
through Centrifugo, and the handler's reply becomes the HTTP response. When Centrifugo goes
away, webhooks to the dev trigger answer 503 at once; when it is back, the dev client
reconnects by itself and the webhooks are answered again.

Not covered by the stand-in: Centrifugo's clustering (one stand-in process is one node), its
JWT checks, connection expiry and refresh proxies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import attrs
import httpx
import pytest

from tests.centrifugo_standin import Standin, running_standin
from tests.integration.postgres import fresh_database
from tests.integration.serving import (
    RunningServer,
    approve_device_login,
    free_port,
    running_server,
)
from tests.integration.test_replicas import (
    TIMEOUT,
    _logged_in,
    _project,
    _start_dev,
    _workflow_id,
    wait_until,
)

pytestmark = pytest.mark.integration

API_KEY = "e2e-centrifugo-api-key"


@attrs.frozen
class CloudReplicas:
    a: RunningServer
    b: RunningServer
    standin_port: int


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudReplicas]:
    home = tmp_path_factory.mktemp("centrifugo-home")
    standin_port = free_port()
    with fresh_database() as url, ExitStack() as stack:
        env = {
            "FLOWW_DATABASE_URL": url.render_as_string(hide_password=False),
            "FLOWW_REALTIME": "centrifugo",
            "FLOWW_CENTRIFUGO_API_URL": f"http://127.0.0.1:{standin_port}",
            "FLOWW_CENTRIFUGO_API_KEY": API_KEY,
            "FLOWW_CENTRIFUGO_WS_URL": f"ws://127.0.0.1:{standin_port}/connection/websocket",
        }
        a = stack.enter_context(running_server(home, env=env, name="centrifugo-a"))
        b = stack.enter_context(running_server(home, env=env, name="centrifugo-b"))
        yield CloudReplicas(a, b, standin_port)


def test_a_dev_session_through_centrifugo_answers_webhooks_sent_to_either_replica(
    cloud: CloudReplicas, tmp_path: Path
) -> None:
    for server in (cloud.a, cloud.b):
        config = httpx.get(f"{server.url}/api/config").json()
        assert config["realtime_url"] == f"ws://127.0.0.1:{cloud.standin_port}/connection/websocket"
    token = approve_device_login(cloud.a)
    project = _project(tmp_path / "hello", "through-centrifugo", "hi")
    standin = running_standin(cloud.a.url, api_key=API_KEY, port=cloud.standin_port)
    centrifugo: AbstractContextManager[Standin] | None = standin
    api_url = standin.__enter__().api_url
    dev = _start_dev(project, _logged_in(cloud.a, token, tmp_path / "xdg"), "dev")
    try:
        workflow_id = _workflow_id(project)
        for server in (cloud.b, cloud.a, cloud.b):
            hook = f"{server.url}/webhook/{workflow_id}/hello/ada"
            answer = httpx.post(hook, json={}, timeout=TIMEOUT)
            assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})
        assert listeners(api_url, workflow_id) == 1

        # Centrifugo goes away: the dev webhook fails at once instead of waiting it out.
        centrifugo, _ = None, standin.__exit__(None, None, None)
        answer = httpx.post(hook, json={}, timeout=TIMEOUT)
        assert answer.status_code == 503, answer.text
        assert "realtime service is unavailable" in answer.json()["error"]["message"]

        # Centrifugo is back on the same address: the dev client reconnects on its own.
        centrifugo = running_standin(cloud.a.url, api_key=API_KEY, port=cloud.standin_port)
        centrifugo.__enter__()
        wait_until(
            lambda: listeners(api_url, workflow_id) == 1,
            "the dev client to reconnect and subscribe again",
            60,
        )
        answer = httpx.post(hook, json={}, timeout=TIMEOUT)
        assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})
    finally:
        assert dev.stop() == 0, dev.output()
        if centrifugo is not None:
            centrifugo.__exit__(None, None, None)


def listeners(api_url: str, workflow_id: str) -> int:
    """How many clients Centrifugo has on the workflow's channel (``presence_stats``)."""
    counted = httpx.post(
        f"{api_url}/api/presence_stats",
        json={"channel": f"workflow:{workflow_id}"},
        headers={"X-API-Key": API_KEY},
    ).json()
    assert counted["result"]["num_users"] == counted["result"]["num_clients"]
    return int(counted["result"]["num_clients"])
