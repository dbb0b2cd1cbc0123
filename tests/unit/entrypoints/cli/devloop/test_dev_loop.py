"""The dev loop over an in-memory server: server webhooks reach the session and its answer
comes back, reloads switch the handler, broken code keeps the last good code serving."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from floww.adapters.inprocess import InProcessRunner, SystemClock
from floww.domain.errors import Unavailable
from floww.domain.model import ExecutionStatus, Invocation, InvocationResult, TriggerSource
from floww.domain.usecases.webhooks import IncomingRequest, WebhookResponse, handle_webhook
from floww.domain.wiredict import spec_as_dict
from floww.entrypoints.cli.devloop import DevLoop, DevOutput
from floww.sdk.kv import InMemoryKvBackend
from tests.unit.entrypoints.cli.devloop.conftest import World


def _post(world: World, path: str, body: bytes = b'{"from": "test"}') -> WebhookResponse:
    request = IncomingRequest(
        workflow_id=world.workflow.id,
        method="POST",
        path=path,
        headers={"content-type": "application/json"},
        query={},
        body=body,
    )
    return handle_webhook(world.deps, request)


def _wait_for(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.01)
    return False


def test_start_syncs_the_dev_triggers_and_reports_the_load(world: World) -> None:
    outcome = world.loop.start()

    assert outcome.ok
    kinds = sorted(
        t.spec.trigger_type
        for t in world.deps.repo.list_triggers(world.workflow.id, TriggerSource.DEV)
    )
    assert kinds == ["cron", "manual", "webhook"]
    assert re.fullmatch(r"✓ loaded in \d+ ms: 3 triggers", world.lines[-1])


def test_a_server_webhook_reaches_the_session_and_its_reply_comes_back(world: World) -> None:
    world.loop.start()
    world.loop.listen()

    response = _post(world, "/hello/grace")

    assert (response.status, response.body) == (200, {"message": "hi grace"})
    execution = world.deps.repo.get_execution(response.execution_id or "")
    assert execution.status == ExecutionStatus.COMPLETED
    assert _wait_for(lambda: any("POST /hello/{name}  ok" in line for line in world.lines))
    event = next(i for i, line in enumerate(world.lines) if "POST /hello/{name}" in line)
    assert "saying hi to grace" in world.lines[event + 1]
    assert world.lines[event + 1].startswith("    info")


def test_a_reload_switches_the_handler(world: World) -> None:
    world.loop.start()
    world.loop.listen()
    world.main.write_text(world.main.read_text().replace('f"hi {', 'f"hello {'))

    outcome = world.loop.reload(["main.py"])

    assert outcome is not None and outcome.ok
    assert world.lines[-2] == "↻ main.py changed: reloading"
    assert world.lines[-1].startswith("✓ reloaded in ")
    assert _post(world, "/hello/grace").body == {"message": "hello grace"}


def test_a_syntax_error_keeps_the_last_good_code_and_names_file_and_line(world: World) -> None:
    world.loop.start()
    world.loop.listen()
    good = world.main.read_text()
    world.main.write_text(good + "\ndef broken(:\n")

    outcome = world.loop.reload(["main.py"])

    assert outcome is not None and not outcome.ok
    line = good.count("\n") + 2
    assert f"✗ main.py:{line}: SyntaxError: invalid syntax" in world.lines
    assert any("def broken(:" in text for text in world.lines)
    assert world.lines[-1] == "    still serving the last good code"
    assert _post(world, "/hello/grace").body == {"message": "hi grace"}


def test_a_first_load_that_fails_waits_for_the_fix(world: World) -> None:
    world.main.write_text("import nope_not_a_module\n")

    outcome = world.loop.start()

    assert not outcome.ok
    assert any(line.startswith("✗ main.py:1: ModuleNotFoundError") for line in world.lines)
    assert world.lines[-1] == "    nothing is served yet: fix the error and save"
    assert world.loop.triggers() == ()


def test_a_missing_provider_is_prompted_for_hidden_and_set_up(world: World) -> None:
    world.main.write_text(
        world.main.read_text().replace("from floww import", "from floww import Secret,")
        + '\nstripe = Secret("stripe", fields=("api_key",))\n'
    )

    outcome = world.loop.start()

    assert outcome.ok and outcome.providers_set_up == ("secret:stripe",)
    asked = [(a.provider, a.field, a.secret) for a in world.prompter.asked]
    assert asked == [("secret:stripe", "api_key", True)]
    stored = world.deps.repo.list_providers(world.workflow.namespace_id)
    assert [p.config for p in stored] == [{"api_key": "sk_test_123"}]
    assert "✓ provider secret:stripe set up; started again from fetching providers" in world.lines
    assert not any("sk_test_123" in line for line in world.lines)


def test_a_failing_handler_prints_its_error_and_user_frames(world: World) -> None:
    world.main.write_text(
        world.main.read_text().replace(
            'name = event.path_params["name"]', 'name = event.path_params["name"]\n    1 / 0'
        )
    )
    world.loop.start()
    world.loop.listen()

    response = _post(world, "/hello/grace")

    assert response.status == 500
    assert _wait_for(lambda: any("failed ZeroDivisionError" in line for line in world.lines))
    at = next(i for i, line in enumerate(world.lines) if "failed ZeroDivisionError" in line)
    below = world.lines[at + 1 :]
    assert any('File "main.py"' in line for line in below)
    assert not any("floww/sdk" in line for line in below)


def test_stop_clears_the_dev_triggers_and_the_subscription(world: World) -> None:
    world.loop.start()
    world.loop.listen()
    channel = f"workflow:{world.workflow.id}"
    realtime = world.deps.realtime
    assert realtime.subscriber_count(channel) == 1  # type: ignore[attr-defined]

    world.loop.stop()

    assert world.deps.repo.list_triggers(world.workflow.id, TriggerSource.DEV) == []
    assert realtime.subscriber_count(channel) == 0  # type: ignore[attr-defined]
    assert world.loop.reload(["main.py"]) is None


def test_a_provider_that_cannot_be_asked_for_says_how_to_set_it_up(world: World) -> None:
    from floww.entrypoints.cli.prompter import TerminalPrompter

    world.loop.start()
    world.loop.session.prompter = TerminalPrompter(interactive=False)
    good = world.main.read_text()
    world.main.write_text(
        good.replace("from floww import", "from floww import Secret,")
        + '\nstripe = Secret("stripe", fields=("api_key",))\n'
    )
    assert world.loop.reload(["main.py"]) is None
    text = "\n".join(world.lines)
    assert "floww providers setup secret:stripe --set FIELD=VALUE" in text
    assert "still serving the last good code" in text


def test_the_loop_renews_its_lease_and_registers_again_once_dropped(world: World) -> None:
    world.loop.renew_every = 0.02
    world.loop.start()
    session = world.loop.session
    world.deps.dev_sessions.remove(world.workflow.id, session.session_id)  # as if it lapsed
    world.loop.listen()

    assert _wait_for(lambda: any("registered it again" in line for line in world.lines))
    live = world.deps.dev_sessions.live(world.workflow.id, world.deps.clock.now())
    assert [s.session_id for s in live] == [session.session_id]
    assert _post(world, "/hello/grace").body == {"message": "hi grace"}
    world.loop.stop()
    assert world.deps.dev_sessions.live(world.workflow.id, world.deps.clock.now()) == []


def test_events_run_side_by_side(world: World, tmp_path: Path) -> None:
    # /slow answers only once /fast ran: run one after the other, /slow would wait it out.
    world.main.write_text(
        world.main.read_text()
        + "\n\nimport pathlib\nimport threading\n\n_fast_ran = threading.Event()\n\n\n"
        + '@builtin.webhook("/slow", methods=["POST"])\n'
        + "def slow(ctx: Context, event: WebhookEvent) -> dict[str, bool]:\n"
        + '    pathlib.Path(event.body["started"]).touch()\n'
        + '    return {"fast ran meanwhile": _fast_ran.wait(4)}\n\n\n'
        + '@builtin.webhook("/fast", methods=["POST"])\n'
        + "def fast(ctx: Context, event: WebhookEvent) -> dict[str, bool]:\n"
        + "    _fast_ran.set()\n"
        + '    return {"fast": True}\n'
    )
    world.loop.start()
    world.loop.listen()
    started = tmp_path / "slow-started"
    slow: list[WebhookResponse] = []
    body = json.dumps({"started": str(started)}).encode()
    waiting = threading.Thread(target=lambda: slow.append(_post(world, "/slow", body)))
    waiting.start()
    assert _wait_for(started.exists)

    assert _post(world, "/fast").body == {"fast": True}
    waiting.join(10)
    assert [r.body for r in slow] == [{"fast ran meanwhile": True}]


class _Ended:
    """A subscription whose connection ended for good."""

    failure = Unavailable("the realtime server closed the connection")

    def get(self, timeout: float | None = None) -> None:
        return None

    def close(self) -> None:
        pass


def test_a_connection_that_ended_is_reported_once(world: World) -> None:
    loop = DevLoop(
        world.loop.session,
        DevOutput(world.lines.append),
        clock=SystemClock(),
        subscribe=lambda _: _Ended(),
        workers=4,
    )
    loop.start()
    loop.listen()
    assert _wait_for(lambda: any("connection ended" in line for line in world.lines))
    loop.stop()  # returns once every worker is done

    assert sum("the realtime connection ended" in line for line in world.lines) == 1


class _Messages:
    """A subscription that hands out the given messages, then nothing."""

    failure = None

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self._messages = messages

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        if self._messages:
            return self._messages.pop(0)
        time.sleep(timeout or 0)
        return None

    def close(self) -> None:
        pass


class _BreaksOnce(InProcessRunner):
    def invoke(self, invocation: Invocation) -> InvocationResult:
        if not self.invocations:
            self.invocations.append(invocation)
            raise RuntimeError("the runner broke")
        return super().invoke(invocation)


def test_a_worker_outlives_an_event_that_broke_it(world: World) -> None:
    session = world.loop.session
    session.runner = _BreaksOnce(kv_backend=InMemoryKvBackend())
    world.loop.start()
    (spec,) = [s for s in world.loop.triggers() if s.trigger_type == "webhook"]
    events = [
        {
            "type": "event",
            "event_id": f"ex_{n}",
            "trigger": spec_as_dict(spec),
            "event": {"method": "POST", "path": "/hello/ada", "path_params": {"name": "ada"}},
            "token": "",
            "reply_to": f"ex_{n}",
        }
        for n in (1, 2)
    ]
    loop = DevLoop(
        session,
        DevOutput(world.lines.append),
        clock=SystemClock(),
        subscribe=lambda _: _Messages(events),
        workers=1,
    )
    loop.listen()

    assert _wait_for(lambda: any("reply not delivered" in line for line in world.lines))
    broke = "event not run: RuntimeError('the runner broke')"
    assert any(broke in line for line in world.lines)
    loop.stop()
