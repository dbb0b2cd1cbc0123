"""``floww dev`` end to end with WorkOS as the identity provider: a real ``floww serve`` with
``FLOWW_IDENTITY=workos`` (the embedded rest), the CLI holding a WorkOS access token (as
``floww login`` stores it), and ``floww dev`` in a copy of examples/hello. A webhook sent to the
server reaches the local handler and its reply becomes the HTTP response: the dev session's
own tokens stay floww's while the person is WorkOS's.

The WorkOS stand-in (loopback, see ``floww.testing.workos_standin``) does not cover WorkOS's
hosted pages or rate limits.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from floww.entrypoints.cli.store import ClientStore, StoredCredentials
from floww.testing.workos_standin import WorkOSStandIn
from tests.integration.serving import RunningServer, free_port, running_server
from tests.integration.test_dev_session import EXAMPLE, TIMEOUT, start_dev, wait_until

pytestmark = pytest.mark.integration

CLIENT = "client_floww"


@pytest.fixture
def standin() -> Iterator[WorkOSStandIn]:
    with WorkOSStandIn(clients=(CLIENT,)) as running:
        yield running


@pytest.fixture
def server(standin: WorkOSStandIn, tmp_path: Path) -> Iterator[RunningServer]:
    port = free_port()
    env = {
        "FLOWW_IDENTITY": "workos",
        "FLOWW_WORKOS_CLIENT_ID": CLIENT,
        "FLOWW_WORKOS_API_KEY": standin.api_key,
        "FLOWW_WORKOS_BASE_URL": standin.url,
        "FLOWW_WORKOS_REDIRECT_URI": f"http://127.0.0.1:{port}/auth/callback",
        "FLOWW_WORKOS_COOKIE_PASSWORD": "p" * 32,
    }
    with running_server(tmp_path / "server-home", env=env, port=port) as running:
        yield running


def test_floww_dev_answers_webhooks_with_a_workos_user(
    standin: WorkOSStandIn, server: RunningServer, tmp_path: Path
) -> None:
    user = standin.add_user("dev@default.test")
    standin.add_membership(user, standin.add_organization("Default"), "member")
    config_home = tmp_path / "xdg-config"
    store = ClientStore(config_home / "floww")
    store.save_credentials(server.url, StoredCredentials(standin.access_token(user)))
    store.set_current_server(server.url)
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLE, project)
    (project / "floww.toml").write_text(
        '[workflow]\nname = "hello-dev"\nnamespace = "default"\nentrypoint = "main.py"\n'
    )

    dev = start_dev(project, config_home)
    try:
        hook = f"{server.url}/webhook/{dev.workflow_id()}/hello/ada"
        answer = httpx.post(hook, json={"from": "test"}, timeout=TIMEOUT)
        assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})
        wait_until(lambda: "POST /hello/{name}  ok" in dev.output(), "the event line")
    finally:
        code = dev.stop()
    assert code == 0, dev.output()
