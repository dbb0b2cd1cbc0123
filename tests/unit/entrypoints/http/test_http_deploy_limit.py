"""The deploy API has its own body limit (``deploy_max_body_bytes``), apart from the
webhooks' ``max_body_bytes``: a workflow with thousands of webhooks deploys."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from conftest import World


def _specs(n: int) -> list[dict[str, object]]:
    return [
        {
            "provider": {"type": "builtin", "alias": "default"},
            "trigger_type": "webhook",
            "input": {"path": f"/hooks/number-{i}/{{id}}", "methods": ["POST"]},
        }
        for i in range(n)
    ]


def test_a_plan_past_the_webhook_limit_is_taken_and_past_its_own_is_refused(
    world: World,
) -> None:
    ada = world.tenant("ada@example.com", "ada")
    settings = attrs.evolve(
        world.deps.settings, max_body_bytes=1024, deploy_max_body_bytes=4_000_000
    )
    app = world.client.app
    services = app.state.services  # type: ignore[attr-defined]
    app.state.services = attrs.evolve(  # type: ignore[attr-defined]
        services, deps=attrs.evolve(services.deps, settings=settings)
    )
    many = {"triggers": _specs(10_000)}  # about 1.4 MB
    planned = world.client.post(
        f"/api/workflows/{ada.workflow_id}/deployments/plan", json=many, headers=ada.headers
    )
    assert planned.status_code == 200, planned.text
    assert len(planned.json()["added"]) == 10_000
    webhook = world.client.post(f"/webhook/{ada.workflow_id}/x", content=b"x" * 2048)
    assert webhook.status_code == 413
    too_many = {"triggers": _specs(30_000)}
    refused = world.client.post(
        f"/api/workflows/{ada.workflow_id}/deployments/plan", json=too_many, headers=ada.headers
    )
    assert refused.status_code == 413
    assert refused.json()["error"]["type"] == "PayloadTooLarge"
