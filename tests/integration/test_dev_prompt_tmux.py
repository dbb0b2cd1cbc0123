"""``floww dev`` in a real terminal (tmux): the code uses a secret that is not configured, so
dev asks for it; the typed secret never shows on the screen, and ends up configured on the
server."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from floww.entrypoints.cli.store import ClientStore, StoredCredentials
from tests.integration.serving import (
    RunningServer,
    approve_device_login,
    free_port,
    running_server,
)
from tests.integration.test_dev_session import EXAMPLE, FLOWW, wait_until

pytestmark = pytest.mark.integration

SECRET = "sk_test_" + uuid.uuid4().hex


def _tmux_or_skip() -> str:
    found = shutil.which("tmux")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is required in CI (apt-get install -y tmux)")
        pytest.skip("tmux is not installed (apt-get install -y tmux)")
    return found


class Terminal:
    """One detached tmux session on a private server socket."""

    def __init__(self, tmux: str, command: str, cwd: Path) -> None:
        self.tmux = tmux
        self.socket = f"floww-test-{uuid.uuid4().hex[:8]}"
        self._run(
            "new-session", "-d", "-s", "dev", "-x", "160", "-y", "50", "-c", str(cwd), command
        )

    def _run(self, *args: str) -> str:
        done = subprocess.run(
            [self.tmux, "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            timeout=10,
            check=True,
        )
        return done.stdout.decode(errors="replace")

    def screen(self) -> str:
        """The pane's whole content, scrollback included."""
        return self._run("capture-pane", "-p", "-J", "-S", "-", "-t", "dev")

    def type(self, text: str) -> None:
        self._run("send-keys", "-t", "dev", "-l", text)

    def press(self, key: str) -> None:
        self._run("send-keys", "-t", "dev", key)

    def close(self) -> None:
        subprocess.run(
            [self.tmux, "-L", self.socket, "kill-server"], capture_output=True, timeout=10
        )


@pytest.fixture
def tmux() -> str:
    return _tmux_or_skip()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "floww-home") as running:
        yield running


def test_dev_asks_for_a_missing_secret_hidden_and_configures_it(
    tmux: str, server: RunningServer, tmp_path: Path
) -> None:
    token = approve_device_login(server)
    config_home = tmp_path / "xdg-config"
    store = ClientStore(config_home / "floww")
    store.save_credentials(server.url, StoredCredentials(token))
    store.set_current_server(server.url)
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLE, project)
    (project / "floww.toml").write_text(
        '[workflow]\nname = "hello-secret"\nnamespace = "default"\n'
    )
    main = project / "main.py"
    main.write_text(
        main.read_text().replace("from floww import", "from floww import Secret,")
        + '\nstripe = Secret("stripe", fields=("api_key",))\n'
    )
    env = {"XDG_CONFIG_HOME": str(config_home), "PYTHONUNBUFFERED": "1"}
    command = " ".join(
        [
            "env -u FLOWW_TOKEN -u FLOWW_SERVER",
            *(f"{k}={shlex.quote(v)}" for k, v in env.items()),
            *(shlex.quote(part) for part in FLOWW),
            f"dev --yes --port {free_port()}",
            "; echo floww-dev-exited-$?; sleep 60",
        ]
    )
    terminal = Terminal(tmux, command, project)
    try:
        wait_until(lambda: "secret:stripe api_key:" in terminal.screen(), "the secret prompt")
        assert "not configured; set it up now" in terminal.screen()

        terminal.type(SECRET)
        terminal.press("Enter")
        wait_until(lambda: "Ctrl-C to stop" in terminal.screen(), "dev to listen")

        screen = terminal.screen()
        assert "✓ provider secret:stripe set up" in screen
        assert SECRET not in screen
        with httpx.Client(
            base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=10
        ) as api:
            (namespace,) = api.get("/api/namespaces").json()["items"]
            configs = api.get(f"/api/namespaces/{namespace['id']}/provider-configs").json()
        assert configs["providers"]["secret:stripe"] == {"api_key": SECRET}

        terminal.press("C-c")
        wait_until(lambda: "floww-dev-exited-0" in terminal.screen(), "dev to stop cleanly")
        assert SECRET not in terminal.screen()
    finally:
        terminal.close()
