"""``floww dev`` end to end with both cloud components of issue 10 selected: WorkOS for
identity (``FLOWW_IDENTITY=workos``, the WorkOS stand-in on loopback) and Centrifugo for live
events (``FLOWW_REALTIME=centrifugo``, the embedded hub playing Centrifugo on loopback), two
``floww serve`` replicas on one PostgreSQL.

A developer signed in with WorkOS runs ``floww dev``; a webhook sent to either replica reaches
the local handler and its reply becomes the HTTP response. Centrifugo's subscribe proxy, asked
as Centrifugo asks it, refuses a user of another WorkOS organization the workflow's channel.

Not covered by the stand-ins: WorkOS's hosted pages and rate limits; Centrifugo's clustering,
its own JWTs, and connection expiry and refresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import attrs
import httpx
import pytest

from floww.testing.workos_standin import WorkOSStandIn
from tests.centrifugo_standin import running_standin
from tests.integration.postgres import fresh_database
from tests.integration.serving import RunningServer, free_port, running_server
from tests.integration.test_replicas import (
    TIMEOUT,
    _logged_in,
    _project,
    _start_dev,
    _workflow_id,
)

pytestmark = pytest.mark.integration

API_KEY = "cloud-dev-centrifugo-key"
CLIENT = "client_floww"


@attrs.frozen
class Cloud:
    a: RunningServer
    b: RunningServer
    workos: WorkOSStandIn
    centrifugo_port: int


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    home = tmp_path_factory.mktemp("cloud-home")
    centrifugo_port = free_port()
    with WorkOSStandIn(clients=(CLIENT,)) as workos, fresh_database() as url, ExitStack() as stack:
        servers = []
        for name in ("cloud-a", "cloud-b"):
            port = free_port()
            env = {
                "FLOWW_DATABASE_URL": url.render_as_string(hide_password=False),
                "FLOWW_REALTIME": "centrifugo",
                "FLOWW_CENTRIFUGO_API_URL": f"http://127.0.0.1:{centrifugo_port}",
                "FLOWW_CENTRIFUGO_API_KEY": API_KEY,
                "FLOWW_CENTRIFUGO_WS_URL": f"ws://127.0.0.1:{centrifugo_port}/connection/websocket",
                "FLOWW_IDENTITY": "workos",
                "FLOWW_WORKOS_CLIENT_ID": CLIENT,
                "FLOWW_WORKOS_API_KEY": workos.api_key,
                "FLOWW_WORKOS_BASE_URL": workos.url,
                "FLOWW_WORKOS_REDIRECT_URI": f"http://127.0.0.1:{port}/auth/callback",
                "FLOWW_WORKOS_COOKIE_PASSWORD": "k" * 32,
            }
            servers.append(stack.enter_context(running_server(home, env=env, name=name, port=port)))
        yield Cloud(servers[0], servers[1], workos, centrifugo_port)


def test_floww_dev_with_workos_and_centrifugo_on_two_replicas(cloud: Cloud, tmp_path: Path) -> None:
    workos = cloud.workos
    ada = workos.add_user("ada@default.test")
    workos.add_membership(ada, workos.add_organization("Default"), "member")
    eve = workos.add_user("eve@other.test")
    workos.add_membership(eve, workos.add_organization("Other"), "admin")

    project = _project(tmp_path / "hello", "cloud-dev", "hi")
    token = workos.access_token(ada)
    with running_standin(cloud.a.url, api_key=API_KEY, port=cloud.centrifugo_port):
        dev = _start_dev(project, _logged_in(cloud.a, token, tmp_path / "xdg"), "dev")
        try:
            workflow_id = _workflow_id(project)
            for server in (cloud.b, cloud.a):
                hook = f"{server.url}/webhook/{workflow_id}/hello/ada"
                answer = httpx.post(hook, json={}, timeout=TIMEOUT)
                assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})

            # Centrifugo asking the subscribe proxy for another organization's user.
            request = {
                "client": str(uuid.uuid4()),
                "transport": "websocket",
                "protocol": "json",
                "encoding": "json",
                "user": eve,
                "channel": f"workflow:{workflow_id}",
            }
            for user, expected in (
                (eve, {"error": {"code": 403, "message": "permission denied"}}),
                (ada, {"result": {}}),
            ):
                answer = httpx.post(
                    f"{cloud.b.url}/centrifugo/subscribe",
                    json={**request, "user": user},
                    headers={"Authorization": f"Bearer {workos.access_token(user)}"},
                    timeout=10,
                )
                assert (answer.status_code, answer.json()) == (200, expected)
        finally:
            assert dev.stop() == 0, dev.output()
