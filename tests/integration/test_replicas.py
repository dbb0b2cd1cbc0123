"""Two ``floww serve`` replicas on one PostgreSQL behave as one platform (issue 8 items 4, 5).

Both replicas share the database (``FLOWW_DATABASE_URL``) and one floww home, which holds the
signing keys, the secret-box key, the accounts and the local registry (see
docs/decisions.md, "Replicas"). The tests log in through one replica and use the other; run
``floww dev`` against one and send webhooks to the other; run two dev sessions on one
workflow; deploy through one replica and let the cron scheduler of both race for each tick.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.adapters.local.image_builder import PipImageBuilder
from floww.domain.model import RuntimeTarget
from floww.entrypoints.cli.store import ClientStore, StoredCredentials
from floww.sdk.bundle import bundle_from_directory
from floww.sdk.wire import code_to_wire
from tests.integration.postgres import fresh_database
from tests.integration.serving import (
    FLOWW,
    RunningServer,
    approve_device_login,
    approve_user_code,
    free_port,
    running_server,
)

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"
TIMEOUT = 30.0


@attrs.frozen
class Replicas:
    a: RunningServer
    b: RunningServer
    env: dict[str, str]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    home = tmp_path_factory.mktemp("shared-home")
    with fresh_database() as url, ExitStack() as stack:
        env = {
            "FLOWW_DATABASE_URL": url.render_as_string(hide_password=False),
            "FLOWW_CRON_INTERVAL_S": "0.5",
        }
        # The first replica makes the keys and the admin account; the second finds them.
        a = stack.enter_context(running_server(home, env=env, name="replica-a"))
        b = stack.enter_context(running_server(home, env=env, name="replica-b"))
        yield Replicas(a, b, env)


@pytest.fixture(scope="module")
def token(replicas: Replicas) -> str:
    return approve_device_login(replicas.a)


def _api(server: RunningServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=60
    )


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def wait_until(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


# device login ---------------------------------------------------------------------------------


def _poll(server: RunningServer, device_code: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/auth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": device_code,
            "client_id": "floww-tests",
        },
        timeout=10,
    )


def test_a_device_login_started_on_one_replica_is_approved_and_polled_on_the_other(
    replicas: Replicas,
) -> None:
    started = _ok(
        httpx.post(f"{replicas.a.url}/api/auth/device", data={"client_id": "floww-tests"})
    )
    approve_user_code(replicas.b, started["user_code"])
    answer = _poll(replicas.b, started["device_code"])
    assert answer.status_code == 200, answer.text
    assert _poll(replicas.a, started["device_code"]).status_code == 400  # one token set only
    with _api(replicas.a, answer.json()["access_token"]) as on_a:
        assert _ok(on_a.get("/api/whoami"))["email"] == "admin@localhost"


def test_a_device_login_survives_a_restart(
    replicas: Replicas, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = replicas.a.home
    with running_server(home, env=replicas.env, name="replica-c") as before:
        started = _ok(
            httpx.post(f"{before.url}/api/auth/device", data={"client_id": "floww-tests"})
        )
    with running_server(home, env=replicas.env, name="replica-c-again") as after:
        approve_user_code(after, started["user_code"])
        answer = _poll(after, started["device_code"])
        assert answer.status_code == 200, answer.text


# dev sessions ---------------------------------------------------------------------------------


@attrs.frozen
class DevProcess:
    process: subprocess.Popen[bytes]
    log: Path
    project: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def _workflow_id(project: Path) -> str:
    return str(tomllib.loads((project / "floww.toml").read_text())["workflow"]["id"])


def _logged_in(server: RunningServer, token: str, where: Path) -> Path:
    store = ClientStore(where / "floww")
    store.save_credentials(server.url, StoredCredentials(token))
    store.set_current_server(server.url)
    return where


def _start_dev(project: Path, config_home: Path, name: str) -> DevProcess:
    log = project.parent / f"{name}.log"
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "PYTHONUNBUFFERED": "1"}
    env.pop("FLOWW_TOKEN", None)
    env.pop("FLOWW_SERVER", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*FLOWW, "dev", "--yes", "--port", str(free_port())],
            cwd=project,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    running = DevProcess(process, log, project)

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"floww dev exited with {process.returncode}:\n{running.output()}")
        return "Ctrl-C to stop" in running.output()

    try:
        wait_until(listening, f"floww dev ({name}) to listen")
    except BaseException:
        running.stop()
        raise
    return running


def _project(root: Path, workflow: str, greeting: str) -> Path:
    shutil.copytree(EXAMPLE, root)
    (root / "floww.toml").write_text(
        f'[workflow]\nname = "{workflow}"\nnamespace = "default"\nentrypoint = "main.py"\n'
    )
    main = root / "main.py"
    main.write_text(main.read_text().replace('f"hi {', f'f"{greeting} {{'))
    return root


def test_a_dev_session_on_one_replica_answers_a_webhook_sent_to_the_other(
    replicas: Replicas, token: str, tmp_path: Path
) -> None:
    project = _project(tmp_path / "hello", "cross-replica", "hi")
    dev = _start_dev(project, _logged_in(replicas.a, token, tmp_path / "xdg"), "dev")
    try:
        hook = f"{replicas.b.url}/webhook/{_workflow_id(project)}/hello/ada"
        for _ in range(3):
            answer = httpx.post(hook, json={}, timeout=TIMEOUT)
            assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})
    finally:
        assert dev.stop() == 0, dev.output()
    assert httpx.post(hook, json={}, timeout=TIMEOUT).status_code == 404


def test_two_dev_sessions_one_answers_and_stopping_it_leaves_the_other(
    replicas: Replicas, token: str, tmp_path: Path
) -> None:
    first_project = _project(tmp_path / "first" / "hello", "two-sessions", "first")
    first = _start_dev(first_project, _logged_in(replicas.a, token, tmp_path / "xdg-a"), "first")
    second = None
    try:
        workflow_id = _workflow_id(first_project)
        # Each replica reads the sessions once here; the second session must still be seen.
        for server in (replicas.a, replicas.b):
            hook = f"{server.url}/webhook/{workflow_id}/hello/ada"
            answer = httpx.post(hook, json={}, timeout=TIMEOUT)
            assert (answer.status_code, answer.json()) == (200, {"message": "first ada"})
        wait_until(lambda: first.output().count("saying hi to ada") >= 2, "both first runs")
        ran_before = first.output().count("saying hi to ada")
        second_project = _project(tmp_path / "second" / "hello", "two-sessions", "second")
        shutil.copy(first_project / "floww.toml", second_project / "floww.toml")
        second = _start_dev(
            second_project, _logged_in(replicas.b, token, tmp_path / "xdg-b"), "second"
        )
        for server in (replicas.a, replicas.b):
            hook = f"{server.url}/webhook/{workflow_id}/hello/ada"
            answer = httpx.post(hook, json={}, timeout=TIMEOUT)
            assert (answer.status_code, answer.json()) == (200, {"message": "second ada"})
        # Both see every event; the older one says another session answers it.
        wait_until(
            lambda: first.output().count("another dev session answers it") >= 2,
            "the first session to observe both events",
        )
        assert first.output().count("saying hi to ada") == ran_before  # it never ran them
        wait_until(lambda: second.output().count("POST /hello/{name}  ok") >= 2, "both runs")

        assert second.stop() == 0, second.output()
        for server in (replicas.a, replicas.b):
            hook = f"{server.url}/webhook/{workflow_id}/hello/ada"
            answer = httpx.post(hook, json={}, timeout=TIMEOUT)
            assert (answer.status_code, answer.json()) == (200, {"message": "first ada"})
    finally:
        if second is not None:
            second.stop()
        assert first.stop() == 0, first.output()


# deployments and cron -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed(
    replicas: Replicas, token: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """examples/hello deployed through replica A, its cron every minute."""
    project = tmp_path_factory.mktemp("deploy") / "hello"
    shutil.copytree(EXAMPLE, project)
    main = project / "main.py"
    main.write_text(main.read_text().replace('"*/5 * * * *"', '"* * * * *"'))
    with _api(replicas.a, token) as api:
        namespace = next(
            n for n in _ok(api.get("/api/namespaces"))["items"] if n["name"] == "default"
        )
        workflow = _ok(
            api.post(f"/api/namespaces/{namespace['id']}/workflows", json={"name": "deployed"}),
            201,
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
                replicas.a.url,
                http=http,
                credentials=lambda _: (creds["username"], creds["password"]),
            )
            registry.push(repository, built.tag, built.image)
        runtime = _ok(
            api.post(
                f"/api/namespaces/{namespace['id']}/runtimes",
                json={"spec_hash": built.tag, "image_ref": f"{repository}:{built.tag}"},
            ),
            201,
        )
        code = bundle_from_directory(project, "main.py")
        receipt = _ok(
            api.post(
                f"/api/workflows/{workflow['id']}/deployments",
                json={"runtime_id": runtime["id"], "code": code_to_wire(code)},
            ),
            201,
        )
    return {"workflow": workflow, "receipt": receipt}


def test_webhooks_of_a_deployment_answer_on_the_replica_that_did_not_deploy_it(
    replicas: Replicas, deployed: dict[str, Any]
) -> None:
    hook = f"{replicas.a.url}/webhook/{deployed['workflow']['id']}/hello/ada"
    answer = httpx.post(hook, json={}, timeout=60)
    assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})
    on_b = hook.replace(replicas.a.url, replicas.b.url)
    for _ in range(5):
        answer = httpx.post(on_b, json={}, timeout=60)
        assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})


def test_each_cron_tick_runs_once_across_replicas(
    replicas: Replicas, token: str, deployed: dict[str, Any]
) -> None:
    """Both replicas' schedulers look every 0.5 s; each ``* * * * *`` tick is claimed in the
    database by one of them. Waits for one minute boundary (at most ~65 s)."""
    workflow_id = deployed["workflow"]["id"]

    def ticks() -> Counter[str]:
        with _api(replicas.b, token) as api:
            items = _ok(api.get(f"/api/workflows/{workflow_id}/executions"))["items"]
            events = [_ok(api.get(f"/api/executions/{e['id']}"))["event"] for e in items]
        return Counter(e["scheduled_time"] for e in events if "scheduled_time" in e)

    seen = wait_until(ticks, "a cron tick", timeout=70)
    time.sleep(2)  # the other replica's scheduler has looked several times since
    seen = ticks()
    assert seen and set(seen.values()) == {1}, seen
