"""``floww deploy`` against a real ``floww serve`` whose registry is the proxy
(``FLOWW_REGISTRY=proxy``) in front of Debian's ``docker-registry`` with Basic auth: the CLI's
daemonless image goes through the proxy into the upstream (nothing into the server's own
store), the local function host pulls it back from the upstream and the webhook answers; a
second deploy uploads nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.registry_upstream import Upstream, upstream_registry
from tests.integration.serving import RunningServer, running_server
from tests.integration.test_cli_e2e import (  # noqa: F401 (fixtures)
    EXAMPLE,
    _deploy_json,
    cli_env,
    floww,
)
from tests.integration.test_cli_e2e import logged_in as logged_in

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with upstream_registry() as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[RunningServer]:
    env = {
        "FLOWW_REGISTRY": "proxy",
        "FLOWW_REGISTRY_UPSTREAM_URL": upstream.url,
        "FLOWW_REGISTRY_UPSTREAM_USERNAME": upstream.username,
        "FLOWW_REGISTRY_UPSTREAM_PASSWORD": upstream.password,
    }
    with running_server(tmp_path_factory.mktemp("floww-home"), env=env) as running:
        yield running


def test_deploy_pushes_through_the_proxy_and_runs_from_the_upstream(
    server: RunningServer, logged_in: dict[str, str], upstream: Upstream, tmp_path: Path
) -> None:
    project = tmp_path / "hello"
    made = floww(logged_in, "init", str(project), "--name", "hello", "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    shutil.copy(EXAMPLE / "main.py", project / "main.py")

    first = _deploy_json(logged_in, project)
    assert (first["built"], first["uploaded"]) == (True, True)
    repository, tag = first["image_ref"].rsplit(":", 1)  # floww/<namespace id>:<tag>
    assert tag in upstream.tags(repository).json()["tags"]
    assert not [p for p in (server.home / "registry").rglob("*") if p.is_file()]

    hook = next(u for u in first["webhook_urls"] if "/hello/" in u).split(" ", 1)[1]
    answer = httpx.post(hook.replace("{name}", "ada"), json={}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"message": "hi ada"}

    second = _deploy_json(logged_in, project)
    assert (second["built"], second["uploaded"]) == (False, False)
    assert upstream.password not in server.output()
