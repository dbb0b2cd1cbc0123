"""A ``floww serve`` that does not sandbox its workers (``FLOWW_SANDBOX=off`` here; a machine
without bubblewrap behaves the same) says so at start and runs the code of one namespace
only, across restarts, until ``FLOWW_ALLOW_UNSANDBOXED=1`` accepts the risk."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.lifecycle import (
    client_env,
    deploy,
    floww_cli,
    make_project,
    server_env,
    webhook_url,
)
from tests.integration.serving import running_server
from tests.integration.test_sandbox_escape import other_namespace, select

pytestmark = pytest.mark.integration


def test_an_unsandboxed_server_runs_one_namespace_unless_told_otherwise(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = server_env(sandbox="off", response_deadline_s="30")
    with running_server(home, env=env) as server:
        said = server.output()
        assert "WARNING: workers are NOT sandboxed (FLOWW_SANDBOX=off)" in said
        assert "one namespace only" in said
        cli = client_env(server, tmp_path)
        mine = make_project(tmp_path, "mine", cli)
        hello = webhook_url(deploy(cli, mine), "/hello/").replace("{name}", "x")
        assert httpx.post(hello, json={}, timeout=30).status_code == 200

        other_namespace(home, cli["FLOWW_TOKEN"], server.url)
        select(cli, "other")
        theirs = make_project(tmp_path, "theirs", cli)
        refused = floww_cli(cli, "deploy", "--yes", cwd=theirs.path)
        assert refused.returncode != 0
        assert "FLOWW_ALLOW_UNSANDBOXED=1" in refused.stdout + refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr

    with running_server(home, env=env) as server:  # the namespace it runs is remembered
        cli = client_env(server, tmp_path) | {"FLOWW_SERVER": server.url}
        select(cli, "other")
        again = floww_cli(cli, "deploy", "--yes", cwd=theirs.path)
        assert again.returncode != 0
        assert "FLOWW_ALLOW_UNSANDBOXED=1" in again.stdout + again.stderr

    with running_server(home, env=env | {"FLOWW_ALLOW_UNSANDBOXED": "1"}) as server:
        assert "FLOWW_ALLOW_UNSANDBOXED=1 lets every namespace's code run" in server.output()
        cli = client_env(server, tmp_path)
        select(cli, "other")
        deployed = deploy(cli, theirs)
        theirs_hello = webhook_url(deployed, "/hello/").replace("{name}", "y")
        assert httpx.post(theirs_hello, json={}, timeout=30).status_code == 200
