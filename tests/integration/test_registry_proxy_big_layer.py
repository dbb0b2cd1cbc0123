"""A 1 GiB layer through the registry proxy of a real ``floww serve``, both ways, with the
server's memory bounded: its peak resident set grows by far less than the layer.

``skopeo`` pushes an image with one 1 GiB gzip layer (zeros in stored deflate blocks: it does
not shrink) through the proxy to Debian's ``docker-registry`` (Basic auth) and pulls it back
(skopeo checks the digest). The server's
peak RSS is reset before (``/proc/<pid>/clear_refs``) and read after (``VmHWM``); the bound
asserted (``MAX_GROWTH_MIB``) is far below the layer, so a proxy that buffered the layer, in
either direction, fails. The figure measured is printed (``pytest -s``) and measured again by
``make bench`` (``benchmarks/registry_proxy.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from floww.adapters.inprocess import SystemClock
from floww.adapters.local.platform_tokens import LocalPlatformTokens
from tests.integration.registry_upstream import big_layer_layout, pull, push, upstream_registry
from tests.integration.serving import running_server

pytestmark = pytest.mark.integration

LAYER_BYTES = 1 << 30
MAX_GROWTH_MIB = 128
REPO = "floww/ns1"


def _memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_a_1_gib_layer_streams_through_the_proxy_with_memory_bounded() -> None:
    # not tmp_path: pytest keeps those, and these are gigabytes
    with tempfile.TemporaryDirectory() as scratch:
        _round_trip(Path(scratch))


def _round_trip(tmp_path: Path) -> None:
    layout = big_layer_layout(tmp_path / "src", LAYER_BYTES)
    home = tmp_path / "home"
    with upstream_registry() as upstream:
        env = {
            "FLOWW_REGISTRY": "proxy",
            "FLOWW_REGISTRY_UPSTREAM_URL": upstream.url,
            "FLOWW_REGISTRY_UPSTREAM_USERNAME": upstream.username,
            "FLOWW_REGISTRY_UPSTREAM_PASSWORD": upstream.password,
        }
        with running_server(home, env=env) as server:
            tokens = LocalPlatformTokens(home, SystemClock())
            token = tokens.issue_registry_token(
                namespace_id="ns1", repository=REPO, ttl_seconds=900
            )
            pid = server.process.pid
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := current RSS
            before = _memory_kib(pid, "VmRSS")
            host = server.url.removeprefix("http://")

            pushed = push(layout, f"{host}/{REPO}:big", token)
            assert pushed.returncode == 0, pushed.stderr
            pulled = pull(f"{host}/{REPO}:big", tmp_path / "back", token, tag="big")
            assert pulled.returncode == 0, pulled.stderr

            peak = _memory_kib(pid, "VmHWM")
    growth_mib = (peak - before) / 1024
    print(
        f"\n1 GiB layer pushed and pulled through the proxy: server RSS {before / 1024:.0f} MiB "
        f"before, peak {peak / 1024:.0f} MiB, growth {growth_mib:.1f} MiB "
        f"({growth_mib / 1024:.3f} of the layer)"
    )
    back = tmp_path / "back" / "blobs" / "sha256" / layout.blobs[1].removeprefix("sha256:")
    assert back.stat().st_size == layout.blob(layout.blobs[1]).stat().st_size >= LAYER_BYTES
    assert growth_mib < MAX_GROWTH_MIB
