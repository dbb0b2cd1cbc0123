"""Centrifugo unreachable (``FLOWW_REALTIME=centrifugo`` with nothing listening at its API
URL): a webhook to a dev trigger answers 503 at once instead of waiting out the response
deadline, and records the execution as failed; a deployed webhook still runs, although the
workflow's dev sessions cannot be told about it.

Centrifugo's side is a loopback port nobody listens on (connection refused); a Centrifugo
that accepts the connection and then hangs is covered by the publisher's timeout
(``test_centrifugo_proxy.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import attrs
import pytest

from floww.adapters.centrifugo import CentrifugoRealtime
from floww.domain.model import ExecutionStatus
from tests.integration.serving import free_port
from tests.unit.entrypoints.http.conftest import World, make_world

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0


@pytest.fixture
def world() -> Iterator[World]:
    unreachable = CentrifugoRealtime(f"http://127.0.0.1:{free_port()}", "key", timeout_s=2)
    try:
        for built in make_world(published=unreachable):
            built.deps = attrs.evolve(
                built.deps,
                settings=attrs.evolve(built.deps.settings, response_deadline_s=DEADLINE_S),
            )
            built.client.app.state.services = attrs.evolve(
                built.client.app.state.services, deps=built.deps
            )
            yield built
    finally:
        unreachable.close()


def test_a_dev_webhook_answers_503_at_once_and_records_a_failure(world: World) -> None:
    tenant = world.tenant("ada@example.com", "acme")
    synced = world.client.put(
        f"/api/workflows/{tenant.workflow_id}/dev-triggers",
        json={"triggers": world.hello_specs()},
        headers=tenant.headers,
    )
    assert synced.status_code == 200, synced.text
    started = time.monotonic()
    answer = world.client.post(f"/webhook/{tenant.workflow_id}/hello/grace")
    waited = time.monotonic() - started
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["type"] == "Unavailable"
    assert "floww dev" in answer.json()["error"]["message"]
    assert waited < DEADLINE_S / 2  # it did not wait for a reply that cannot come
    execution = world.repo.get_execution(answer.json()["execution_id"])
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error is not None and execution.error.type == "RealtimeUnavailable"


def test_a_deployed_webhook_runs_though_its_dev_sessions_cannot_be_told(world: World) -> None:
    tenant = world.tenant("ada@example.com", "acme")
    world.deploy_hello(tenant)
    synced = world.client.put(
        f"/api/workflows/{tenant.workflow_id}/dev-triggers",
        json={"triggers": world.hello_specs()},
        headers=tenant.headers,
    )
    assert synced.status_code == 200, synced.text
    answer = world.client.post(f"/webhook/{tenant.workflow_id}/hello/ada")
    assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})
