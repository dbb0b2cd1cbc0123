"""Runs nobody waits for, handed to AWS Lambda asynchronously: a server built as ``floww serve``
builds it (PostgreSQL, the Lambda host over moto on loopback, its HTTP app served by uvicorn
on loopback), and floww's real Lambda entry in this process playing the function.

Shown: a cron tick is invoked with ``InvocationType=Event`` (moto answers 202) and stays
STARTED, its lease handed to the function host until its deadline; the entry, given the very
request the server sent, fetches the code and reports the answer over HTTP with the
execution's token, and the execution ends COMPLETED with the handler's result and logs. A
second report is refused with 409; another execution's token cannot report it (404); a report
that is not the contract's answer is 400 and changes nothing; a builtin webhook stays
synchronous. A report that never comes: the server is stopped, another
one is started on the same database, and its recovery sweep ends the execution TIMED_OUT once
the deadline passed (not before) and records its retry (the trigger's policy); a late report is
then refused.

What the stand-ins do not show: moto never runs the image or queues the event (the test
takes the request from the Invoke call the server made and hands it to the entry), so
Lambda's own retries of an asynchronous event and its event age limit are not exercised.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from floww.adapters.aws.lambda_host import LambdaConfig, LambdaFunctionHost, lambda_client
from floww.bootstrap import Server, build_server
from floww.domain.model import CodeBundle, ExecutionStatus, Principal, TriggerSource
from floww.domain.usecases import deployments, workflows
from floww.domain.usecases.recovery import NO_REPORT_MESSAGE
from floww.domain.usecases.scheduling import CronTick, fire_cron_tick
from floww.domain.usecases.webhooks import IncomingRequest, handle_webhook
from floww.sdk.lambda_entry import LambdaEntry
from floww.sdk.wire import definitions_request
from floww.settings import Settings
from tests.integration.moto_lambda import REGION, MotoAws, moto_aws
from tests.integration.postgres import PostgresDatabase

pytestmark = pytest.mark.integration

MAIN = """
from floww import Builtin, Retry

builtin = Builtin()

@builtin.cron("0 * * * *", retry=Retry(attempts=2, backoff_s=60))
def hourly(ctx, event):
    return "hourly"

@builtin.cron("*/5 * * * *")
def tick(ctx, event):
    ctx.log.info("ticking")
    return {"ticked": True, "execution": ctx.execution_id}

@builtin.webhook("/hello")
def hello(ctx, event):
    return {"hello": "there"}
"""
CODE = CodeBundle("main.py", {"main.py": MAIN})
OWNER = Principal(id="usr_async", kind="user", email="owner@example.com")
TIMEOUT_S = 3.0  # the execution timeout; the lease adds LEASE_S for the report to travel
LEASE_S = 1.0


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_aws() as running:
        yield running


class Invokes:
    """The Invoke requests a Lambda client sent, as Lambda received them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.synchronous = 0

    def record(self, request: Any, **_: Any) -> None:
        if request.headers.get("X-Amz-Invocation-Type") == b"Event" or (
            request.headers.get("X-Amz-Invocation-Type") == "Event"
        ):
            self.events.append(json.loads(request.body))
        else:
            self.synchronous += 1


def settings_for(home: Path, port: int, database: PostgresDatabase, aws: MotoAws) -> Settings:
    return Settings(
        home=home,
        port=port,
        database_url=database.url.render_as_string(hide_password=False),
        function_host="lambda",
        lambda_region=REGION,
        lambda_role_arn=aws.role_arn,
        lambda_image_prefix="123456789012.dkr.ecr.us-east-1.amazonaws.com",
        lambda_endpoint_url=aws.url,
        execution_timeout_s=TIMEOUT_S,
        lease_ttl_s=LEASE_S,
    )


@contextlib.contextmanager
def serving(
    settings: Settings, sock: socket.socket, aws: MotoAws
) -> Iterator[tuple[Server, Invokes]]:
    """The server's app on loopback (no background loops: the test sweeps when it means to),
    its Lambda client recording what it invokes."""
    invokes = Invokes()
    client = lambda_client(REGION, endpoint_url=aws.url, timeout_s=30)
    client.meta.events.register("before-send.lambda.Invoke", invokes.record)
    config = LambdaConfig(
        role_arn=aws.role_arn, image_prefix=settings.lambda_image_prefix, timeout_s=30
    )
    server = build_server(settings, host=LambdaFunctionHost(client, config))
    web = uvicorn.Server(uvicorn.Config(server.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not web.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield server, invokes
    finally:
        web.should_exit = True
        thread.join(timeout=10)
        server.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def deploy(server: Server, aws: MotoAws, expression: str = "*/5 * * * *") -> CronTick:
    """A workflow whose active deployment runs on a Lambda function; a tick of its cron
    trigger of ``expression``."""
    deps = server.deps
    namespace = workflows.create_namespace(deps, OWNER, f"ns-{time.monotonic_ns()}")
    workflow = workflows.create_workflow(deps, OWNER, namespace.id, "ticker")
    runtime = deployments.create_runtime(
        deps,
        OWNER,
        namespace_id=namespace.id,
        spec_hash="spec",
        image_ref=f"floww/{namespace.id}:deps",
    )
    aws.queue_results(LambdaEntry().handle(definitions_request(CODE, {})))
    deployments.create_deployment(
        deps, OWNER, deployments.DeploymentRequest(workflow.id, runtime.id, CODE)
    )
    (cron,) = [
        t
        for t in deps.repo.list_triggers(workflow.id, TriggerSource.DEPLOYMENT)
        if t.spec.input.get("expression") == expression
    ]
    return CronTick(cron, datetime(2026, 1, 1, 12, 0, tzinfo=UTC))


def tick_at(tick: CronTick, minute: int) -> CronTick:
    return CronTick(tick.trigger, tick.scheduled_at.replace(minute=minute))


def report(server: Server, request: dict[str, Any], answer: Any) -> httpx.Response:
    execution = request["execution"]
    return httpx.post(
        f"{server.settings.base_url}/api/executions/{execution['id']}/report",
        json={"result": answer},
        headers={"Authorization": f"Bearer {execution['token']}"},
        timeout=10,
    )


def bound(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def test_a_cron_tick_runs_detached_and_ends_with_the_report(
    env: None, aws: MotoAws, postgres: PostgresDatabase, tmp_path: Path
) -> None:
    with bound() as sock:
        settings = settings_for(tmp_path, sock.getsockname()[1], postgres, aws)
        with serving(settings, sock, aws) as (server, invokes):
            tick = deploy(server, aws)
            started = fire_cron_tick(server.deps, tick)
            assert started is not None and started.status is ExecutionStatus.STARTED
            stored = server.deps.repo.get_execution(started.id)
            assert stored.owner == "function-host"
            assert stored.lease_expires_at is not None
            left = (stored.lease_expires_at - datetime.now(UTC)).total_seconds()
            assert LEASE_S < left <= TIMEOUT_S + LEASE_S  # beyond a renewed lease's reach
            (request,) = invokes.events
            assert request["execution"]["id"] == started.id
            assert request["execution"]["report"] is True
            assert "files" not in request["code"]

            # The function runs: fetches the code, answers, reports with its token.
            answer = LambdaEntry().handle(request)
            assert answer["ok"] is True, answer
            done = server.deps.repo.get_execution(started.id)
            assert done.status is ExecutionStatus.COMPLETED
            assert done.result == {"ticked": True, "execution": started.id}
            assert [line.message for line in done.logs] == ["ticking"]

            again = report(server, request, answer)
            assert again.status_code == 409, again.text
            assert "cannot be reported again" in again.json()["error"]["message"]

            # Two more ticks: the one's token cannot report the other.
            first = fire_cron_tick(server.deps, tick_at(tick, 5))
            second = fire_cron_tick(server.deps, tick_at(tick, 10))
            assert first is not None and second is not None
            one, two = invokes.events[1:]
            stolen = {**two, "execution": {**two["execution"], "id": first.id}}
            refused = report(server, stolen, {"ok": True, "result": "forged", "logs": []})
            assert refused.status_code == 404, refused.text
            assert server.deps.repo.get_execution(first.id).status is ExecutionStatus.STARTED
            malformed = httpx.post(
                f"{server.settings.base_url}/api/executions/{first.id}/report",
                json={"result": "nope"},
                headers={"Authorization": f"Bearer {one['execution']['token']}"},
                timeout=10,
            )
            assert malformed.status_code == 400, malformed.text
            assert "result" in malformed.json()["error"]["message"]
            assert server.deps.repo.get_execution(first.id).status is ExecutionStatus.STARTED
            failing = {"ok": False, "error": {"type": "ValueError", "message": "no"}, "logs": []}
            assert report(server, one, failing).status_code == 200
            failed = server.deps.repo.get_execution(first.id)
            assert (failed.status, failed.error and failed.error.type) == (
                ExecutionStatus.FAILED,
                "ValueError",
            )
            assert LambdaEntry().handle(two)["ok"] is True  # reports with its own token
            assert server.deps.repo.get_execution(second.id).status is ExecutionStatus.COMPLETED

            # A builtin webhook's caller waits for the answer: a synchronous invoke.
            synchronous = invokes.synchronous
            aws.queue_results({"ok": True, "result": {"hello": "there"}, "logs": []})
            answered = handle_webhook(
                server.deps,
                IncomingRequest(
                    workflow_id=tick.trigger.workflow_id,
                    method="POST",
                    path="/hello",
                    headers={"content-type": "application/json"},
                    query={},
                    body=b"{}",
                ),
            )
            assert answered.status == 200 and answered.body == {"hello": "there"}
            assert invokes.synchronous == synchronous + 1
            assert len(invokes.events) == 3


def test_a_report_that_never_comes_times_the_execution_out_after_a_restart(
    env: None, aws: MotoAws, postgres: PostgresDatabase, tmp_path: Path
) -> None:
    with bound() as sock:
        settings = settings_for(tmp_path, sock.getsockname()[1], postgres, aws)
        with serving(settings, sock, aws) as (server, invokes):
            tick = deploy(server, aws, "0 * * * *")  # retried once when it fails
            started = fire_cron_tick(server.deps, tick)
            assert started is not None
            (request,) = invokes.events
        # The first server stopped (its clean stop hands over its own leases only).
        with postgres.engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, owner FROM executions WHERE id = :id"), {"id": started.id}
            ).one()
        assert tuple(row) == ("started", "function-host")
    # The next server answers at the same address (the function reports to the URL it got).
    with bound(settings.port) as sock:
        settings = settings_for(tmp_path, sock.getsockname()[1], postgres, aws)
        with serving(settings, sock, aws) as (server, _):
            swept = server.leases.sweep()
            assert swept is not None and not swept.settled  # before the deadline: untouched
            assert server.deps.repo.get_execution(started.id).status is ExecutionStatus.STARTED
            time.sleep(TIMEOUT_S + LEASE_S + 0.2)
            swept = server.leases.sweep()
            assert swept is not None
            assert [e.id for e in swept.settled] == [started.id]
            assert not swept.interrupted
            ended = server.deps.repo.get_execution(started.id)
            assert ended.status is ExecutionStatus.TIMED_OUT
            assert ended.error is not None
            assert (ended.error.type, ended.error.message) == (
                "DeadlineExceeded",
                NO_REPORT_MESSAGE,
            )
            (retry,) = [
                e
                for e in server.deps.repo.list_executions(started.workflow_id)
                if e.retry_of == started.id
            ]
            assert (retry.status, retry.attempt) == (ExecutionStatus.RECEIVED, 2)
            # The function's report, arriving late, changes nothing.
            late = LambdaEntry().handle(request)  # reports; the server refuses
            assert late["ok"] is True
            assert report(server, request, late).status_code == 409
            assert server.deps.repo.get_execution(started.id).status is (ExecutionStatus.TIMED_OUT)
