"""The HTTP protocol of ``floww serve`` sends a response's head and body together, on a real
uvicorn server on loopback: counted at the connection's transport, and checked for what a
client receives (in order, whole, closed after when asked, streamed bodies intact)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from floww.entrypoints.http.connection_limits import ConnectionLimits, LimitedHttpToolsProtocol
from tests.integration.serving import free_port

BIG = bytes(range(256)) * 8192  # 2 MiB


async def small(request: Request) -> Response:
    await request.body()
    return JSONResponse({"message": "hi"})


async def closing(request: Request) -> Response:
    return Response(b"bye", headers={"connection": "close"})


async def big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def streamed(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            yield f"chunk-{i};".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="text/plain")


_writes: list[int] = []


class _Recording:
    """The real transport, with the size of each write to it recorded."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        _writes.append(len(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _CountingProtocol(LimitedHttpToolsProtocol):
    limits = ConnectionLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Recording(transport))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    app = Starlette(
        routes=[
            Route("/small", small, methods=["POST"]),
            Route("/close", closing),
            Route("/big", big),
            Route("/stream", streamed),
            Route("/flood", _Flood()),
        ]
    )
    chosen = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=chosen, log_level="warning", http=_CountingProtocol
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield chosen
    server.should_exit = True
    thread.join(timeout=10)


def _read_response(sock: socket.socket, pending: bytearray) -> tuple[bytes, bytes]:
    """One response (head, body) of a content-length or chunked answer."""
    while b"\r\n\r\n" not in pending:
        data = sock.recv(65536)
        assert data, "closed before a whole head"
        pending += data
    head, _, rest = bytes(pending).partition(b"\r\n\r\n")
    pending[:] = rest
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        while b"0\r\n\r\n" not in pending:
            data = sock.recv(65536)
            assert data
            pending += data
        body, _, rest = bytes(pending).partition(b"0\r\n\r\n")
        pending[:] = rest
        return head, body
    length = int(lowered.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    while len(pending) < length:
        data = sock.recv(65536)
        assert data, "closed before the whole body"
        pending += data
    body = bytes(pending[:length])
    del pending[:length]
    return head, body


def test_a_response_leaves_in_one_write(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        pending = bytearray()
        for _ in range(3):  # kept alive: every response of the connection
            _writes.clear()
            sock.sendall(b"POST /small HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
            head, body = _read_response(sock, pending)
            assert head.startswith(b"HTTP/1.1 200")
            assert body == b'{"message":"hi"}'
            assert len(_writes) == 1, _writes


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    request = b"POST /small HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request * 3 + b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n" + request)
        pending = bytearray()
        bodies = [_read_response(sock, pending)[1] for _ in range(5)]
    assert bodies[:3] == [b'{"message":"hi"}'] * 3
    assert bodies[3] == BIG
    assert bodies[4] == b'{"message":"hi"}'


def test_a_closing_response_is_sent_whole_before_the_close(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /close HTTP/1.1\r\nhost: x\r\n\r\n")
        received = b""
        while data := sock.recv(65536):
            received += data
    assert received.startswith(b"HTTP/1.1 200")
    assert received.endswith(b"\r\n\r\nbye")


def test_a_streamed_body_arrives_whole_and_in_order(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        _head, body = _read_response(sock, bytearray())
    text = body.decode()
    positions = [text.index(f"chunk-{i};") for i in range(5)]
    assert positions == sorted(positions)


_FLOOD_CHUNKS = 1024  # 64 MiB: more than the kernel's socket buffers hold on loopback
_flood_done = threading.Event()


class _Flood:
    """A bare ASGI app sending 64 KiB chunks one after the other, never yielding on its own:
    only the server's flow control can make it wait for a slow reader."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await _flood(send)


async def _flood(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    chunk = b"x" * 65536
    for _ in range(_FLOOD_CHUNKS):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
    _flood_done.set()


def test_a_producer_that_never_yields_still_waits_for_a_slow_reader(port: int) -> None:
    _flood_done.clear()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /flood HTTP/1.1\r\nhost: x\r\n\r\n")
        # Nothing is read for a while: the app must be held back, not buffered in memory.
        assert not _flood_done.wait(2.0), "64 MiB were taken from the app for a reader at rest"
        received = 0
        while received < _FLOOD_CHUNKS * 65536:
            data = sock.recv(1 << 20)
            assert data
            received += len(data)
    assert _flood_done.wait(30)
