"""Rollback through the real CLI against a real ``floww serve``: the earlier code answers at
once, nothing is built or pushed, and the rollback holds across a restart of the server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.serving import approve_device_login, running_server

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"


def _floww(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "floww", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _registry_files(home: Path) -> set[Path]:
    return {p for p in (home / "registry").rglob("*") if p.is_file()}


def test_rollback_answers_with_the_earlier_code_and_survives_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    project = tmp_path / "hello"
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWW_TOKEN", "FLOWW_SERVER")}
    env |= {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    with running_server(home) as server:
        env |= {"FLOWW_SERVER": server.url, "FLOWW_TOKEN": approve_device_login(server)}
        _floww(env, "init", str(project), "--name", "hello", "--yes")
        shutil.copy(EXAMPLE / "main.py", project / "main.py")
        first = json.loads(_floww(env, "deploy", "--yes", "--json", cwd=project))
        hook = next(u for u in first["webhook_urls"] if "/hello/" in u).split(" ", 1)[1]
        path = hook.replace("{name}", "ada").removeprefix(server.url)
        main = project / "main.py"
        main.write_text(main.read_text().replace('f"hi {name}"', 'f"v2 says hi {name}"'))
        _floww(env, "deploy", "--yes", cwd=project)
        assert httpx.post(server.url + path, timeout=60).json() == {"message": "v2 says hi ada"}

        registry_before = _registry_files(home)
        rolled = json.loads(_floww(env, "deployments", "rollback", "--json", cwd=project))
        assert rolled["deployment"]["id"] == first["deployment_id"]
        answer = httpx.post(server.url + path, timeout=60)
        assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})
        assert _registry_files(home) == registry_before

        listed = json.loads(_floww(env, "deployments", "list", "--json", cwd=project))
        assert [d["status"] for d in listed] == ["inactive", "active"]
        assert {d["image_ref"] for d in listed} == {first["image_ref"]}

    with running_server(home) as again:
        answer = httpx.post(again.url + path, timeout=60)
        assert (answer.status_code, answer.json()) == (200, {"message": "hi ada"})
