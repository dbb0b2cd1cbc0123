"""End to end over real HTTP on loopback: ``floww serve`` as a subprocess; a user logged in
through the device flow; ``examples/hello``'s runtime image built without Docker and pushed to
the server's own ``/v2/``; deployed through the API; its webhook, manual trigger and cron
trigger run on warm local worker processes."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.adapters.local.image_builder import PipImageBuilder
from floww.domain.model import RuntimeTarget
from floww.sdk.bundle import bundle_from_directory
from floww.sdk.wire import code_to_wire
from tests.integration.serving import RunningServer, approve_device_login, running_server

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("floww-home")
    with running_server(home, env={"FLOWW_CRON_INTERVAL_S": "0.5"}) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: RunningServer) -> Iterator[httpx.Client]:
    token = approve_device_login(server)
    with httpx.Client(
        base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        yield client


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def deployed(
    server: RunningServer, api: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    project = tmp_path_factory.mktemp("project") / "hello"
    shutil.copytree(EXAMPLE, project)
    main = project / "main.py"
    main.write_text(main.read_text().replace('"*/5 * * * *"', '"* * * * *"'))

    (namespace,) = _ok(api.get("/api/namespaces"))["items"]
    workflow = _ok(
        api.post(f"/api/namespaces/{namespace['id']}/workflows", json={"name": "hello"}), 201
    )
    target = RuntimeTarget(**_ok(api.get("/api/config"))["runtime_target"])
    built = PipImageBuilder(tmp_path_factory.mktemp("image-cache")).build(target, [])

    repository = f"floww/{namespace['id']}"
    creds = _ok(
        api.post(
            f"/api/namespaces/{namespace['id']}/registry-credentials",
            json={"repository": repository},
        )
    )
    with httpx.Client(timeout=60) as http:
        registry = RegistryV2Client(
            server.url, http=http, credentials=lambda _: (creds["username"], creds["password"])
        )
        registry.push(repository, built.tag, built.image)
        assert registry.exists(repository, built.tag)

    runtime = _ok(
        api.post(
            f"/api/namespaces/{namespace['id']}/runtimes",
            json={"spec_hash": built.tag, "image_ref": f"{repository}:{built.tag}"},
        ),
        201,
    )
    assert runtime["status"] == "ready", runtime
    code = bundle_from_directory(project, "main.py")
    receipt = _ok(
        api.post(
            f"/api/workflows/{workflow['id']}/deployments",
            json={"runtime_id": runtime["id"], "code": code_to_wire(code)},
        ),
        201,
    )
    return {"namespace": namespace, "workflow": workflow, "receipt": receipt}


def test_the_webhook_answers_with_the_handlers_response(
    server: RunningServer, api: httpx.Client, deployed: dict[str, Any]
) -> None:
    (url,) = [
        u.split(" ", 1)[1] for u in deployed["receipt"]["webhook_urls"] if u.startswith("POST ")
    ]
    assert url == f"{server.url}/webhook/{deployed['workflow']['id']}/hello/{{name}}"
    response = httpx.post(url.replace("{name}", "ada"), json={"from": "e2e"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "hi ada"}

    execution_id = response.headers["x-floww-execution-id"]
    listed = _ok(api.get(f"/api/workflows/{deployed['workflow']['id']}/executions"))["items"]
    assert execution_id in [e["id"] for e in listed]
    execution = _ok(api.get(f"/api/executions/{execution_id}"))
    assert execution["status"] == "completed"
    assert any("saying hi to ada" in line["message"] for line in execution["logs"])


def test_a_manual_trigger_runs_on_request(api: httpx.Client, deployed: dict[str, Any]) -> None:
    execution = _ok(
        api.post(
            f"/api/workflows/{deployed['workflow']['id']}/manual/greet",
            json={"input": {"name": "bob"}},
        )
    )
    assert (execution["status"], execution["result"]) == ("completed", {"greeting": "hello, bob"})


def test_a_cron_trigger_fires_on_schedule(api: httpx.Client, deployed: dict[str, Any]) -> None:
    """Waits for the next minute boundary (at most ~70 s): the ``* * * * *`` tick runs on the
    worker, sees its real scheduled time, and bumps a KV counter through the API with its
    execution token."""
    workflow_id, namespace_id = deployed["workflow"]["id"], deployed["namespace"]["id"]
    deadline = time.monotonic() + 75
    ticks: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not ticks:
        items = _ok(
            api.get(f"/api/workflows/{workflow_id}/executions", params={"status": "completed"})
        )["items"]
        ticks = [_ok(api.get(f"/api/executions/{e['id']}")) for e in items]
        ticks = [t for t in ticks if "scheduled_time" in t["event"]]
        time.sleep(1)
    assert ticks, "no cron execution completed within 75 s"
    scheduled = ticks[0]["event"]["scheduled_time"]
    assert scheduled.endswith(":00+00:00")
    assert any(scheduled in line["message"] for line in ticks[0]["logs"])
    counter = _ok(api.get("/api/kv/ticks", params={"namespace": namespace_id}))
    assert counter["value"] >= 1
