"""The registry proxy in figures: an image with one large layer (1 GiB by default,
``BENCH_LAYER_MIB``) pushed and pulled back with ``skopeo``, straight to Debian's
``docker-registry`` (the baseline) and through a real ``floww serve`` with
``FLOWW_REGISTRY=proxy`` in front of the same registry. Printed: the time of each, their
ratio, and the server's peak resident memory growth (VmHWM after, against RSS before) as a
fraction of the layer. ``python -m benchmarks.registry_proxy``."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from tests.integration.registry_upstream import big_layer_layout, skopeo, upstream_registry
from tests.integration.serving import running_server

from floww.adapters.inprocess import SystemClock
from floww.adapters.local.platform_tokens import LocalPlatformTokens

LAYER_MIB = int(os.environ.get("BENCH_LAYER_MIB", "1024"))
REPO = "floww/bench"


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _round_trip(host: str, layout_ref: str, out: Path, user: str, password: str) -> float:
    started = time.monotonic()
    for args in (
        ("--dest-tls-verify=false", "--dest-creds", f"{user}:{password}", layout_ref,
         f"docker://{host}/{REPO}:big"),
        ("--src-tls-verify=false", "--src-creds", f"{user}:{password}",
         f"docker://{host}/{REPO}:big", f"oci:{out}:big"),
    ):  # fmt: skip
        done = skopeo("copy", *args)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
    return time.monotonic() - started


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as root:
        layout = big_layer_layout(Path(root) / "src", LAYER_MIB << 20)
        with upstream_registry() as upstream:
            direct = _round_trip(
                upstream.url.removeprefix("http://"),
                layout.reference,
                Path(root) / "direct",
                upstream.username,
                upstream.password,
            )
        with upstream_registry() as upstream:  # a fresh one: the layer is uploaded again
            home = Path(root) / "home"
            env = {
                "FLOWW_REGISTRY": "proxy",
                "FLOWW_REGISTRY_UPSTREAM_URL": upstream.url,
                "FLOWW_REGISTRY_UPSTREAM_USERNAME": upstream.username,
                "FLOWW_REGISTRY_UPSTREAM_PASSWORD": upstream.password,
            }
            with running_server(home, env=env) as server:
                token = LocalPlatformTokens(home, SystemClock()).issue_registry_token(
                    namespace_id="bench", repository=REPO, ttl_seconds=3600
                )
                pid = server.process.pid
                Path(f"/proc/{pid}/clear_refs").write_text("5")
                before = _kib(pid, "VmRSS")
                proxied = _round_trip(
                    server.url.removeprefix("http://"),
                    layout.reference,
                    Path(root) / "proxied",
                    "floww",
                    token,
                )
                peak = _kib(pid, "VmHWM")
    growth = (peak - before) / 1024
    moved = 2 * LAYER_MIB
    return [
        f"registry proxy: one {LAYER_MIB} MiB layer pushed and pulled back with skopeo",
        f"{'straight to docker-registry':<34} {direct:>7.1f} s   {moved / direct:>7.0f} MiB/s",
        f"{'through floww serve (proxy)':<34} {proxied:>7.1f} s   {moved / proxied:>7.0f} MiB/s",
        f"{'ratio proxy / direct':<34} time x{proxied / direct:.2f}",
        f"{'server peak RSS':<34} {before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB peak: "
        f"+{growth:.1f} MiB ({growth / LAYER_MIB:.3f} of the layer)",
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
