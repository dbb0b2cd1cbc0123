"""``floww serve --workers N``: N full server processes on one port and one PostgreSQL, stopped
together by SIGTERM; refused with a sentence on SQLite (single-process)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.postgres import fresh_database
from tests.integration.serving import SERVE, free_port

pytestmark = pytest.mark.integration


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def test_workers_share_a_port_and_stop_together(tmp_path: Path) -> None:
    port = free_port()
    with fresh_database() as url:
        env = {**os.environ, "FLOWW_DATABASE_URL": url.render_as_string(hide_password=False)}
        log = (tmp_path / "serve.log").open("wb")
        supervisor = subprocess.Popen(
            [*SERVE, "--workers", "2", "--home", str(tmp_path / "home"), "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while len(_children(supervisor.pid)) < 2 or not _answers(port):
                assert supervisor.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
            workers = _children(supervisor.pid)
            with httpx.Client(timeout=10) as http:
                for _ in range(40):
                    answer = http.get(f"http://127.0.0.1:{port}/api/config")
                    assert answer.status_code == 200
            assert _children(supervisor.pid) == workers  # none exited
            supervisor.send_signal(signal.SIGTERM)
            assert supervisor.wait(timeout=90) == 0
            assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
        finally:
            if supervisor.poll() is None:
                supervisor.kill()
                supervisor.wait()
            log.close()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/config", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_more_than_one_worker_on_sqlite_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [*SERVE, "--workers", "2", "--home", str(tmp_path / "home"), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "FLOWW_DATABASE_URL"},
    )
    assert done.returncode != 0
    assert "needs PostgreSQL" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
