"""The edge limits in figures. Peak memory of a real ``floww serve`` under oversized request
heads (a 64 MiB header, then 20,000 headers, each sent once on a raw socket): the answer's
status line and the server's peak resident memory (VmHWM) before and after. Then the price of
the limits: the bare Starlette endpoint under uvicorn's own httptools protocol and under
floww's limited one, same load. ``python -m benchmarks.edge``."""

from __future__ import annotations

import contextlib
import socket
import tempfile
from pathlib import Path

import httpx
from tests.integration.serving import RunningServer, approve_device_login, running_server


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _send(port: int, head: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        # the server may answer and close before the head is fully sent
        with contextlib.suppress(OSError):
            sock.sendall(head)
        try:
            answer = sock.recv(4096)
        except OSError as exc:
            return f"no answer ({type(exc).__name__})"
    return answer.split(b"\r\n", 1)[0].decode(errors="replace") or "closed without answer"


def _webhook(server: RunningServer) -> tuple[httpx.Client, str]:
    """A logged-in API client and a workflow with a dev webhook ``POST /hook`` (no session
    listens: each call is stored as an execution and answered 503)."""
    token = approve_device_login(server)
    api = httpx.Client(
        base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=60
    )
    (namespace,) = api.get("/api/namespaces").json()["items"]
    workflow = api.post(
        f"/api/namespaces/{namespace['id']}/workflows", json={"name": "edge"}
    ).json()["id"]
    spec = {
        "provider": {"type": "builtin", "alias": "default"},
        "trigger_type": "webhook",
        "input": {"path": "/hook", "methods": ["POST"]},
    }
    api.put(f"/api/workflows/{workflow}/dev-triggers", json={"triggers": [spec]})
    return api, workflow


def run() -> list[str]:
    home = Path(tempfile.mkdtemp(prefix="floww-bench-edge-")) / "home"
    with running_server(home) as server:
        api, workflow = _webhook(server)
        port = int(server.url.rsplit(":", 1)[1])
        pid = server.process.pid
        lines = [f"floww serve peak RSS at start: {_peak_rss_mb(pid):.0f} MB"]
        target = f"POST /webhook/{workflow}/hook HTTP/1.1\r\nhost: x\r\n".encode()
        big = target + b"x-big: " + b"a" * (64 * 1024 * 1024) + b"\r\n\r\n"
        many = target + b"".join(b"x-h%d: v\r\n" % i for i in range(20_000)) + b"\r\n"
        for name, head in (("64 MiB header", big), ("20,000 headers", many)):
            status = _send(port, head)
            stored = len(api.get(f"/api/workflows/{workflow}/executions").json()["items"])
            lines.append(
                f"{name} on a webhook -> {status!r}; executions stored {stored}; "
                f"peak RSS {_peak_rss_mb(pid):.0f} MB"
            )
        api.close()
        return lines


def overhead() -> list[str]:
    from benchmarks.__main__ import CONCURRENCY, _measure, _serve

    with _serve("benchmarks.serve_baseline") as url:
        plain = _measure(url)
    with _serve("benchmarks.serve_limited") as url:
        limited = _measure(url)
    return [
        f"bare endpoint, uvicorn httptools:   {plain.throughput:>7.0f} req/s   "
        f"p50 {plain.percentile(50):.2f} ms   p99 {plain.percentile(99):.2f} ms",
        f"bare endpoint, with floww's limits: {limited.throughput:>7.0f} req/s   "
        f"p50 {limited.percentile(50):.2f} ms   p99 {limited.percentile(99):.2f} ms"
        f"   ({CONCURRENCY} concurrent)",
    ]


if __name__ == "__main__":
    for line in [*run(), *overhead()]:
        print(line, flush=True)
