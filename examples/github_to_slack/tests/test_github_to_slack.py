"""The github_to_slack example, tested in memory: a push is announced in Slack, recorded by
the fake Slack provider instead of being sent."""

import pytest

from floww.domain.errors import PermissionDenied


@pytest.fixture
def workflow(floww_workflow):
    return floww_workflow("../main.py", providers={"slack:ops": {"bot_token": "xoxb-test"}})


def test_a_push_to_main_is_announced_in_deploys(workflow):
    (run,) = workflow.github_push("acme", "api", branch="main", pusher="ada")

    assert run.ok, run.error
    (call,) = workflow.providers.calls_to("slack.send_message")
    assert call.provider == "slack:ops"
    assert call.args == {"channel": "#deploys", "text": "ada pushed"}
    assert run.result["ok"] is True and run.result["channel"] == "#deploys"


def test_pushes_elsewhere_run_nothing(workflow):
    assert workflow.github_push("acme", "api", branch="feature") == []
    assert workflow.github_push("acme", "web", branch="main") == []
    assert workflow.providers.calls == []


def test_a_refused_slack_token_fails_the_run(workflow):
    workflow.providers.respond("slack.send_message", {"ok": False, "error": "invalid_auth"})

    (run,) = workflow.github_push("acme", "api", pusher="ada")

    assert not run.ok
    assert run.error.type == PermissionDenied.__name__
    assert "invalid_auth" in run.error.message


def test_the_webhook_answers_with_the_name(workflow):
    assert workflow.webhook("/hello", json={"name": "ada"}).result == {"message": "hi ada"}
