"""Centrifugo figures for ``make bench``: two ``floww serve`` replicas on one PostgreSQL, a
``floww dev`` session connected through replica A, and sequential webhook round trips sent to
replica B (webhook -> realtime -> dev session -> reply -> caller). Measured twice in the same
run: with the embedded realtime (the baseline: an outbox row and NOTIFY reach A's hub) and with
``FLOWW_REALTIME=centrifugo`` (B publishes over Centrifugo's server HTTP API to the embedded hub
playing Centrifugo, whose connect and subscribe proxies point at A). p50/p99 of
``CENTRIFUGO_REQUESTS`` each. Needs a PostgreSQL server (see ``tests/integration/postgres.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx
from tests.centrifugo_standin import running_standin
from tests.integration.postgres import fresh_database
from tests.integration.serving import approve_device_login, free_port, running_server
from tests.integration.test_dev_session import EXAMPLE, start_dev

from benchmarks.dev import _percentile, _post, _timed
from floww.entrypoints.cli.store import ClientStore, StoredCredentials

__all__ = ["run"]

REQUESTS = int(os.environ.get("CENTRIFUGO_REQUESTS", "200"))
API_KEY = "bench-centrifugo-key"


def _round_trips(root: Path, centrifugo: bool) -> list[float]:
    root.mkdir(parents=True)
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database())
        env = {"FLOWW_DATABASE_URL": url.render_as_string(hide_password=False)}
        port = free_port()
        if centrifugo:
            env |= {
                "FLOWW_REALTIME": "centrifugo",
                "FLOWW_CENTRIFUGO_API_URL": f"http://127.0.0.1:{port}",
                "FLOWW_CENTRIFUGO_API_KEY": API_KEY,
                "FLOWW_CENTRIFUGO_WS_URL": f"ws://127.0.0.1:{port}/connection/websocket",
            }
        a = stack.enter_context(running_server(root / "home", env=env, name="a"))
        b = stack.enter_context(running_server(root / "home", env=env, name="b"))
        if centrifugo:
            stack.enter_context(running_standin(a.url, api_key=API_KEY, port=port))
        config_home = root / "xdg-config"
        store = ClientStore(config_home / "floww")
        store.save_credentials(a.url, StoredCredentials(approve_device_login(a)))
        store.set_current_server(a.url)
        project = root / "project" / "hello"
        shutil.copytree(EXAMPLE, project)
        (project / "floww.toml").write_text('[workflow]\nname = "bench-centrifugo"\n')
        dev = start_dev(project, config_home)
        stack.callback(dev.stop)
        path = f"/webhook/{dev.workflow_id()}/hello/ada"
        with httpx.Client(timeout=30) as http:
            return _timed(_post(http, f"{b.url}{path}", {"message": "hi ada"}), REQUESTS)


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="floww-bench-centrifugo-") as tmp:
        embedded = _round_trips(Path(tmp) / "embedded", centrifugo=False)
        through = _round_trips(Path(tmp) / "centrifugo", centrifugo=True)
    e50, e99 = _percentile(embedded, 50), _percentile(embedded, 99)
    c50, c99 = _percentile(through, 50), _percentile(through, 99)
    return [
        f"webhook to replica B, dev session on A ({REQUESTS} sequential requests each)",
        f"{'embedded realtime (PostgreSQL fan-out)':<44} p50 {e50:>7.2f} ms   p99 {e99:>7.2f} ms",
        f"{'Centrifugo (the embedded hub playing it)':<44} p50 {c50:>7.2f} ms   p99 {c99:>7.2f} ms",
        f"{'  ratio Centrifugo / embedded':<44} p50 x{c50 / e50:.2f}     p99 x{c99 / e99:.2f}",
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
