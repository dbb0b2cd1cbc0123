"""The hello example, tested in memory with the floww pytest plugin."""

from datetime import UTC, datetime

import pytest

from floww.testing import NoMatchingTrigger


def test_the_webhook_greets_by_the_name_in_the_path(floww_workflow):
    workflow = floww_workflow("../main.py")

    run = workflow.webhook("/hello/ada", json={})

    assert run.ok, run.error
    assert run.result == {"message": "hi ada"}
    assert run.messages == ["saying hi to ada"]
    assert run.logs[0].fields == {"path": "/hello/ada"}


def test_only_post_reaches_the_webhook(floww_workflow):
    workflow = floww_workflow("../main.py")

    with pytest.raises(NoMatchingTrigger):
        workflow.webhook("/hello/ada", method="GET")


def test_each_tick_counts_in_the_key_value_store(floww_workflow):
    workflow = floww_workflow("../main.py", kv={"ticks": 41})

    run = workflow.cron(at=datetime(2024, 5, 1, 12, 5, tzinfo=UTC))

    assert run.ok, run.error
    assert workflow.kv.get("ticks") == 42
    assert run.messages == ["tick at 2024-05-01T12:05:00+00:00"]
    assert run.logs[0].fields == {"ticks": 42}


def test_greet_uses_the_input_name_or_the_world(floww_workflow):
    workflow = floww_workflow("../main.py")

    assert workflow.manual("greet", {"name": "ada"}).result == {"greeting": "hello, ada"}
    assert workflow.manual("greet").result == {"greeting": "hello, world"}
