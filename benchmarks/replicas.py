"""Replica figures for ``make bench``: two ``floww serve`` processes on one PostgreSQL sharing a
home, a ``floww dev`` session connected to replica A, and sequential webhook round trips
(webhook -> realtime -> dev session -> reply -> caller) sent to A itself and to replica B,
which reaches the session through the database (outbox + LISTEN/NOTIFY) and meets the reply
the same way. p50/p99 of ``REPLICA_REQUESTS`` each. Needs a PostgreSQL server (see
``tests/integration/postgres.py``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx
from tests.integration.postgres import fresh_database
from tests.integration.serving import approve_device_login, running_server
from tests.integration.test_dev_session import EXAMPLE, start_dev

from benchmarks.dev import _percentile, _post, _timed
from floww.entrypoints.cli.store import ClientStore, StoredCredentials

__all__ = ["run"]

REQUESTS = int(os.environ.get("REPLICA_REQUESTS", "200"))


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="floww-bench-replicas-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        url = stack.enter_context(fresh_database())
        env = {"FLOWW_DATABASE_URL": url.render_as_string(hide_password=False)}
        a = stack.enter_context(running_server(root / "home", env=env, name="a"))
        b = stack.enter_context(running_server(root / "home", env=env, name="b"))
        config_home = root / "xdg-config"
        store = ClientStore(config_home / "floww")
        store.save_credentials(a.url, StoredCredentials(approve_device_login(a)))
        store.set_current_server(a.url)
        project = root / "project" / "hello"
        shutil.copytree(EXAMPLE, project)
        (project / "floww.toml").write_text('[workflow]\nname = "bench-replicas"\n')
        dev = start_dev(project, config_home)
        try:
            path = f"/webhook/{dev.workflow_id()}/hello/ada"
            hi = {"message": "hi ada"}
            with httpx.Client(timeout=30) as http:
                same = _timed(_post(http, f"{a.url}{path}", hi), REQUESTS)
                other = _timed(_post(http, f"{b.url}{path}", hi), REQUESTS)
        finally:
            dev.stop()
    s50, s99 = _percentile(same, 50), _percentile(same, 99)
    o50, o99 = _percentile(other, 50), _percentile(other, 99)
    return [
        f"two replicas on one PostgreSQL, dev session on A ({REQUESTS} sequential requests each)",
        f"{'webhook to A -> dev -> reply':<40} p50 {s50:>7.2f} ms   p99 {s99:>7.2f} ms",
        f"{'webhook to B -> (PostgreSQL) -> dev':<40} p50 {o50:>7.2f} ms   p99 {o99:>7.2f} ms",
        f"{'  ratio other replica / same replica':<40} p50 x{o50 / s50:.1f}"
        f"      p99 x{o99 / s99:.1f}",
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
