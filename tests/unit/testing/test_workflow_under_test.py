"""``floww.testing``'s workflow harness and fake providers, on small workflows written here."""

from __future__ import annotations

import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from floww.domain.errors import InvalidInput, UserCodeError
from floww.sdk.http import JsonClient, provider_transport
from floww.testing import FakeProviders, NoMatchingTrigger, WorkflowUnderTest, load_workflow
from floww.testing.providers import FAKE_API_ROOT

FLOW = """
from floww import Builtin, GitHub, Slack

builtin = Builtin()
github = GitHub()
slack = Slack()

@builtin.webhook("/items/{item_id}", methods=["GET", "POST"])
def item(ctx, event):
    return {"which": "templated", "id": event.path_params["item_id"]}

@builtin.webhook("/items/special", methods=["GET"])
def special(ctx, event):
    return {"which": "static", "query": event.query, "agent": event.header("User-Agent")}

@builtin.webhook("/echo", methods=["POST"])
def echo(ctx, event):
    print("echoing")
    return {"body": event.body, "raw": event.raw_body.decode()}

@slack.on_message(channel="C-ALERTS")
async def alert(ctx, event):
    issue = await github.create_issue("acme", "api", title=event.text)
    await github.create_comment("acme", "api", issue["number"], body=f"from {event.user}")
    return issue["number"]

@builtin.manual
def fail(ctx, event):
    raise RuntimeError("on purpose")
"""


def write(tmp_path: Path, source: str, name: str = "main.py") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture
def flow(tmp_path: Path) -> WorkflowUnderTest:
    return load_workflow(write(tmp_path / "project", FLOW), cache_root=tmp_path / "code")


def test_a_static_path_beats_a_templated_one_as_on_the_server(flow: WorkflowUnderTest) -> None:
    special = flow.webhook(
        "/items/special", method="GET", query={"q": "1"}, headers={"User-Agent": "t"}
    )
    assert special.result == {"which": "static", "query": {"q": "1"}, "agent": "t"}
    assert flow.webhook("/items/7", method="GET").result == {"which": "templated", "id": "7"}
    assert flow.webhook("/items/special", method="POST").result["which"] == "templated"
    with pytest.raises(NoMatchingTrigger, match="declared: "):
        flow.webhook("/nowhere")


def test_bodies_arrive_as_the_server_parses_them(flow: WorkflowUnderTest) -> None:
    as_json = flow.webhook("/echo", json={"a": [1, 2]})
    assert as_json.result == {"body": {"a": [1, 2]}, "raw": '{"a": [1, 2]}'}
    assert as_json.messages == ["echoing"]
    as_text = flow.webhook("/echo", body="plain", headers={"Content-Type": "text/plain"})
    assert as_text.result == {"body": "plain", "raw": "plain"}


def test_a_slack_message_in_the_channel_calls_github_through_the_fakes(
    flow: WorkflowUnderTest,
) -> None:
    assert flow.slack_message("C-OTHER", "ignored") == []
    (run,) = flow.slack_message("C-ALERTS", "disk full", user="U42")
    assert run.ok, run.error
    assert run.result == 1
    assert [(c.name, c.provider, c.args) for c in flow.providers.calls] == [
        (
            "github.create_issue",
            "github:default",
            {"title": "disk full", "body": "", "owner": "acme", "repository": "api"},
        ),
        (
            "github.create_comment",
            "github:default",
            {"body": "from U42", "owner": "acme", "repository": "api", "issue_number": 1},
        ),
    ]


def test_scripted_errors_reach_the_handler_as_the_sdk_raises_them(flow: WorkflowUnderTest) -> None:
    flow.providers.respond("github.create_issue", {"message": "Bad credentials"}, status=401)
    (run,) = flow.slack_message("C-ALERTS", "disk full")
    assert not run.ok and run.error is not None
    assert run.error.type == "PermissionDenied" and "Bad credentials" in run.error.message
    assert [c.name for c in flow.providers.calls] == ["github.create_issue"]


def test_a_failing_handler_is_a_failed_run_with_its_error(flow: WorkflowUnderTest) -> None:
    run = flow.manual("fail")
    assert not run.ok and run.error is not None
    assert (run.error.type, run.error.message) == ("RuntimeError", "on purpose")
    assert "main.py" in run.error.traceback


def test_configs_given_by_the_test_are_used_but_never_the_network(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        from floww import Builtin, Secret
        builtin = Builtin()
        key = Secret("stripe", fields=("api_key",))
        @builtin.manual
        def show(ctx, event):
            return key["api_key"]
        """,
    )
    flow = load_workflow(path, providers={"secret:stripe": {"api_key": "sk_1"}})
    assert flow.manual().result == "sk_1"
    assert flow.configs["secret:stripe"]["api_url"].startswith(FAKE_API_ROOT)


def test_a_module_that_fails_to_load_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "import os\n\nraise ValueError('no')\n")
    with pytest.raises(UserCodeError) as failure:
        load_workflow(path)
    assert (failure.value.filename, failure.value.lineno) == ("main.py", 3)


def test_loading_by_module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "", "flows/__init__.py")
    write(
        tmp_path,
        "from floww import Builtin\nfrom flows.helper import ANSWER\nbuiltin = Builtin()\n"
        "@builtin.manual\ndef answer(ctx, event):\n    return ANSWER\n",
        "flows/main.py",
    )
    write(tmp_path, "ANSWER = 42\n", "flows/helper.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert load_workflow("flows.main").manual().result == 42
        with pytest.raises(InvalidInput, match="package"):
            load_workflow("flows")
        with pytest.raises(InvalidInput):
            load_workflow("flows.nothing_here")
    finally:
        for name in [n for n in sys.modules if n == "flows" or n.startswith("flows.")]:
            del sys.modules[name]


def test_a_call_to_a_real_address_fails_loudly() -> None:
    fakes = FakeProviders()
    request = urllib.request.Request("https://api.github.com/repos/a/b/issues", method="POST")
    with pytest.raises(AssertionError, match="not to a fake provider"):
        fakes.transport(request, 1.0)


def test_provider_transport_applies_in_its_context_only() -> None:
    fakes = FakeProviders()
    url = f"{FAKE_API_ROOT}/slack/default"
    with provider_transport(fakes.transport):
        answer = JsonClient("Slack", url).call("POST", "/chat.postMessage", {"channel": "#c"})
    assert answer["ok"] is True and fakes.calls_to("slack.send_message")[0].args == {
        "channel": "#c"
    }
    explicit: list[str] = []

    def own(request: urllib.request.Request, timeout: float) -> bytes:
        explicit.append(request.full_url)
        return b"{}"

    with provider_transport(fakes.transport):
        JsonClient("Slack", url, transport=own).call("POST", "/x")
    assert explicit == [f"{url}/x"] and len(fakes.calls) == 1
