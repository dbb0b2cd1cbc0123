"""The edge limits in figures. Peak memory of a real ``floww serve`` under oversized request
heads (a 64 MiB header, then 20,000 headers, each sent once on a raw socket): the answer's
status line and the server's peak resident memory (VmHWM) before and after. Then the price of
the limits: the bare Starlette endpoint under uvicorn's own httptools protocol and under
floww's limited one, same load. ``python -m benchmarks.edge``."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SERVE = (sys.executable, "-c", "from floww.entrypoints.cli import main; main()", "serve")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def run() -> list[str]:
    home = Path(tempfile.mkdtemp(prefix="floww-bench-edge-"))
    port = _free_port()
    process = subprocess.Popen(
        [*SERVE, "--home", str(home), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/config", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        lines = [f"floww serve peak RSS at start: {_peak_rss_mb(process.pid):.0f} MB"]
        target = b"POST /webhook/wf_none/hook HTTP/1.1\r\nhost: x\r\n"
        big = target + b"x-big: " + b"a" * (64 * 1024 * 1024) + b"\r\n\r\n"
        status = _send(port, big)
        lines.append(f"64 MiB header -> {status!r}; peak RSS {_peak_rss_mb(process.pid):.0f} MB")
        many = target + b"".join(b"x-h%d: v\r\n" % i for i in range(20_000)) + b"\r\n"
        status = _send(port, many)
        lines.append(f"20,000 headers -> {status!r}; peak RSS {_peak_rss_mb(process.pid):.0f} MB")
        return lines
    finally:
        process.terminate()
        process.wait(timeout=10)


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
