"""``floww dev`` end to end: a real ``floww serve``, a logged-in CLI, and ``floww dev`` as a
subprocess in a copy of examples/hello. A webhook sent to the server reaches the local handler
and its answer comes back; saving the file switches the handler without a restart; a syntax
error keeps the old code serving and is reported with its file and line; Ctrl-C clears the dev
triggers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from floww.entrypoints.cli.store import ClientStore, StoredCredentials
from tests.integration.serving import (
    FLOWW,
    RunningServer,
    approve_device_login,
    free_port,
    running_server,
)

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("floww-home")) as running:
        yield running


@pytest.fixture(scope="module")
def config_home(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An XDG config dir logged in to ``server`` as the admin (device flow approved on the
    ``/device`` page), in the CLI's own credentials format."""
    home = tmp_path_factory.mktemp("xdg-config")
    store = ClientStore(home / "floww")
    store.save_credentials(server.url, StoredCredentials(approve_device_login(server)))
    store.set_current_server(server.url)
    return home


def wait_until(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@attrs.frozen
class DevProcess:
    process: subprocess.Popen[bytes]
    log: Path
    project: Path
    local_port: int

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def workflow_id(self) -> str:
        doc = tomllib.loads((self.project / "floww.toml").read_text())
        return str(doc["workflow"]["id"])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def start_dev(project: Path, config_home: Path, *extra: str) -> DevProcess:
    """``floww dev --yes`` in ``project``, its output in a file; returns once it listens."""
    port = free_port()
    log = project.parent / "dev.log"
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "PYTHONUNBUFFERED": "1"}
    env.pop("FLOWW_TOKEN", None)
    env.pop("FLOWW_SERVER", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*FLOWW, "dev", "--yes", "--port", str(port), *extra],
            cwd=project,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    running = DevProcess(process, log, project, port)

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"floww dev exited with {process.returncode}:\n{running.output()}")
        return "Ctrl-C to stop" in running.output()

    try:
        wait_until(listening, "floww dev to listen")
    except BaseException:
        running.stop()
        raise
    return running


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "hello"
    shutil.copytree(EXAMPLE, root)
    (root / "floww.toml").write_text(
        '[workflow]\nname = "hello-dev"\nnamespace = "default"\nentrypoint = "main.py"\n'
    )
    return root


def test_dev_session_answers_reloads_and_survives_broken_code(
    server: RunningServer, config_home: Path, project: Path
) -> None:
    dev = start_dev(project, config_home)
    try:
        hook = f"{server.url}/webhook/{dev.workflow_id()}/hello/ada"
        local = f"http://127.0.0.1:{dev.local_port}/hello/ada"
        assert f"POST {hook.replace('/ada', '/{name}')}" in dev.output()

        answer = httpx.post(hook, json={"from": "test"}, timeout=TIMEOUT)
        assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})
        wait_until(lambda: "POST /hello/{name}  ok" in dev.output(), "the event line")
        assert "saying hi to ada" in dev.output()
        assert httpx.post(local, json={}, timeout=TIMEOUT).json() == {"message": "hi ada"}

        main = project / "main.py"
        good = main.read_text().replace('f"hi {', 'f"hello {')
        main.write_text(good)
        wait_until(
            lambda: httpx.post(hook, json={}, timeout=TIMEOUT).json() == {"message": "hello ada"},
            "the server webhook to answer with the new code",
        )
        assert dev.process.poll() is None

        main.write_text(good + "\ndef broken(:\n")
        where = f"main.py:{good.count(chr(10)) + 2}: SyntaxError"
        wait_until(lambda: where in dev.output(), "the syntax error to be reported")
        assert "still serving the last good code" in dev.output()
        assert httpx.post(hook, json={}, timeout=TIMEOUT).json() == {"message": "hello ada"}
        assert httpx.post(local, json={}, timeout=TIMEOUT).json() == {"message": "hello ada"}
    finally:
        code = dev.stop()
    assert code == 0, dev.output()
    assert "Stopped." in dev.output()
    assert httpx.post(hook, json={}, timeout=TIMEOUT).status_code == 404
