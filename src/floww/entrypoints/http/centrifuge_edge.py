"""The realtime websocket endpoint: the subset of the Centrifugo JSON client protocol that dev
sessions need, served from the embedded hub, so one client library talks to both this server and
a real Centrifugo.

Wire format: every websocket text message carries one or more JSON objects separated by
newlines, in both directions. Supported commands (each with a positive ``id``, answered by a
reply with the same ``id``):

- ``connect {token}``: the token (or, without one, the bearer token of the websocket request's
  ``Authorization`` header) is checked by ``authenticate``; a bad one closes the socket with
  disconnect code 3500 "invalid token" (the client does not reconnect). The result carries the
  client id and ``ping`` (whole seconds) with ``pong: true``.
- ``subscribe {channel}``: allowed when ``may_subscribe(principal, channel)``; otherwise error 103
  "permission denied". A second subscribe to the same channel is error 105.
- ``unsubscribe {channel}``.
- ``rpc {method, data}``: with ``rpc`` given, the connection's handler (made from its
  principal on its first RPC) answers ``{"rpc": {"data"}}``; a ``FlowwError`` it raises is the
  error ``rpc_error`` gives (``dev_rpc``). The token the connection was made with is
  authenticated again before an RPC once ``RPC_AUTH_TTL_S`` seconds have passed since it last
  was: a revoked or expired token (or a disabled user) gets error 101 "unauthorized" instead,
  and so does every later RPC of the connection (its subscriptions go on). Without ``rpc``:
  error 108 "not available".
- an empty object ``{}`` from the client is a pong.

Other known commands (publish, history, presence, refresh, ...) get error 108 "not
available", unknown ones error 104 "method not found". Malformed JSON, a binary message, a command
without ``id`` or any command before ``connect`` close the socket with 3501 "bad request".
Publications travel as ``{"push": {"channel", "pub": {"data"}}}``. The server sends an empty ``{}``
ping every ``ping_interval`` seconds and closes a client that sent nothing since the previous ping
with 3012 "no pong"; a socket that does not connect within one interval is closed with 3502
"stale"; one whose outbox overflows (see ``floww.adapters.local.hub``) with 3008 "slow".
A connection keeps its subscriptions for its lifetime, even past the expiry of the token it
connected with.

Playing Centrifugo (``proxy`` given): the endpoint then decides as a Centrifugo configured with
connect and subscribe proxies does. A connect without a token becomes a connect proxy request
(``client``, ``transport``, ``protocol``, ``encoding`` and the client's ``name``, ``version``,
``data`` when given) sent with the websocket request's headers; its ``result.user`` connects the
client, an ``error`` is the connect reply's error and a ``disconnect`` closes the socket with its
code and reason. Every subscribe becomes a subscribe proxy request (the same fields with
``user`` and ``channel``) answered the same way; every RPC, when the proxy offers an RPC proxy,
an RPC proxy request (the same fields with ``user``, ``method`` and ``data``) whose
``result.data`` is the RPC's answer (without one: error 108, as Centrifugo with no RPC
proxy). A proxy that fails or cannot be reached gives the temporary error 100. Not played:
Centrifugo's own JWT checks (a connect with a token is refused with 3500), ``expire_at`` and
the refresh proxies, server-side subscriptions, history, recovery, presence details beyond
counts, RPC namespaces, and every transport but the JSON websocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from floww.domain.errors import (
    FlowwError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from floww.domain.model import Principal
from floww.entrypoints.http.dev_rpc import RPC_AUTH_TTL_S, RpcHandler, RpcHandlers, rpc_error
from floww.entrypoints.http.outbox import DEFAULT_MAX_PENDING, Outbox
from floww.ports.realtime import RealtimeHub

__all__ = [
    "ClientSession",
    "Disconnect",
    "ProxyCalls",
    "decode_commands",
    "encode_frame",
    "realtime_route",
]

log = logging.getLogger("floww.realtime")

_KNOWN_UNSUPPORTED = (
    "publish",
    "presence",
    "presence_stats",
    "history",
    "refresh",
    "sub_refresh",
)


class ProxyCalls(Protocol):
    """Sends Centrifugo's connect, subscribe and RPC proxy requests to the application; returns
    the answer object (``result``, ``error`` or ``disconnect``); raises when there is none."""

    @property
    def offers_rpc(self) -> bool:
        """Whether an RPC proxy is configured (``rpc`` may be called)."""

    def connect(self, request: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]: ...

    def subscribe(self, request: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]: ...

    def rpc(self, request: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]: ...


_PROXY_FIELDS = {"transport": "websocket", "protocol": "json", "encoding": "json"}


class Disconnect(Exception):
    """The server ends the connection with a Centrifugo disconnect code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason

    @classmethod
    def bad_request(cls) -> Disconnect:
        return cls(3501, "bad request")

    @classmethod
    def invalid_token(cls) -> Disconnect:
        return cls(3500, "invalid token")

    @classmethod
    def no_pong(cls) -> Disconnect:
        return cls(3012, "no pong")

    @classmethod
    def stale(cls) -> Disconnect:
        return cls(3502, "stale")

    @classmethod
    def slow(cls) -> Disconnect:
        return cls(3008, "slow")


def decode_commands(text: str) -> list[dict[str, Any]]:
    """The commands of one websocket message; ``Disconnect`` (bad request) unless every
    non-blank line is a JSON object."""
    commands: list[dict[str, Any]] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            command = json.loads(line)
        except ValueError:
            raise Disconnect.bad_request() from None
        if not isinstance(command, dict):
            raise Disconnect.bad_request()
        commands.append(command)
    return commands


def encode_frame(items: list[tuple[str | None, str]]) -> str:
    """One websocket message from an outbox batch: publications become ``push`` objects (their
    data is already encoded JSON), the connection's own frames are sent as they are."""
    lines = []
    for channel, text in items:
        if channel is None:
            lines.append(text)
        else:
            lines.append(f'{{"push":{{"channel":{json.dumps(channel)},"pub":{{"data":{text}}}}}}}')
    return "\n".join(lines)


def _reply(command_id: int, **body: Any) -> str:
    return json.dumps({"id": command_id, **body}, separators=(",", ":"))


def _error(command_id: int, code: int, message: str, *, temporary: bool = False) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if temporary:
        error["temporary"] = True
    return _reply(command_id, error=error)


class ClientSession:
    """The protocol state of one connection. ``handle`` processes one websocket message and
    queues every reply into ``outbox`` (where the hub also queues the publications), so that a
    subscribe reply always precedes the channel's first publication. It raises ``Disconnect``
    when the connection must end. ``authenticate`` and ``may_subscribe`` may block: they run in
    a worker thread."""

    def __init__(
        self,
        hub: RealtimeHub,
        outbox: Outbox,
        *,
        authenticate: Callable[[str], Principal],
        may_subscribe: Callable[[Principal, str], bool],
        ping_interval: float,
        proxy: ProxyCalls | None = None,
        headers: Mapping[str, str] | None = None,
        rpc: RpcHandlers | None = None,
        rpc_auth_ttl_s: float = RPC_AUTH_TTL_S,
    ) -> None:
        self._hub = hub
        self._proxy = proxy
        self._rpc_handlers = rpc
        self._rpc_handler: RpcHandler | None = None
        self._token = ""  # what the connection authenticated with (not playing Centrifugo)
        self._authenticated_until = 0.0
        self._rpc_auth_ttl_s = rpc_auth_ttl_s
        self._headers = dict(headers or {})
        self._outbox = outbox
        self._authenticate = authenticate
        self._may_subscribe = may_subscribe
        self._ping_interval = ping_interval
        self.principal: Principal | None = None
        self.user: str | None = None  # the proxy's user id, when playing Centrifugo
        self.client_id = str(uuid.uuid4())
        self.channels: set[str] = set()
        self.heard_from = False

    @property
    def connected(self) -> bool:
        return self.principal is not None or self.user is not None

    async def handle(self, text: str) -> None:
        self.heard_from = True
        for command in decode_commands(text):
            await self._command(command)

    def close(self) -> None:
        for channel in self.channels:
            self._hub.detach(channel, self._outbox)
        self.channels.clear()
        self._outbox.close()

    async def _command(self, command: dict[str, Any]) -> None:
        command_id = command.get("id", 0)
        if not command_id:
            if command and set(command) != {"send"}:
                raise Disconnect.bad_request()
            return  # a pong, or an async message nobody handles here
        if not isinstance(command_id, int) or isinstance(command_id, bool) or command_id < 0:
            raise Disconnect.bad_request()
        if "connect" in command:
            await self._connect(command_id, command["connect"])
            return
        if not self.connected:
            raise Disconnect.bad_request()
        if "subscribe" in command:
            await self._subscribe(command_id, _channel_of(command["subscribe"]))
        elif "unsubscribe" in command:
            channel = _channel_of(command["unsubscribe"])
            if channel in self.channels:
                self.channels.discard(channel)
                self._hub.detach(channel, self._outbox)
            self._outbox.put_frame(_reply(command_id, unsubscribe={}))
        elif "rpc" in command:
            await self._rpc(command_id, command["rpc"])
        elif any(name in command for name in _KNOWN_UNSUPPORTED):
            self._outbox.put_frame(_error(command_id, 108, "not available"))
        else:
            self._outbox.put_frame(_error(command_id, 104, "method not found"))

    async def _connect(self, command_id: int, body: Any) -> None:
        if self.connected or not isinstance(body, dict):
            raise Disconnect.bad_request()
        if self._proxy is not None:
            await self._proxy_connect(command_id, body)
            return
        token = body.get("token") or _bearer(self._headers)
        if not isinstance(token, str) or not token:
            raise Disconnect.invalid_token()
        try:
            self.principal = await run_in_threadpool(self._authenticate, token)
            self._token = token
            self._authenticated_until = time.monotonic() + self._rpc_auth_ttl_s
        except Unauthenticated:
            raise Disconnect.invalid_token() from None
        except FlowwError as exc:
            log.warning("realtime connect: authentication failed: %s", exc)
            self._outbox.put_frame(_error(command_id, 100, "internal server error", temporary=True))
            return
        except Exception:
            log.exception("realtime connect: authentication failed")
            self._outbox.put_frame(_error(command_id, 100, "internal server error", temporary=True))
            return
        self._connected(command_id)

    def _connected(self, command_id: int) -> None:
        ping = max(1, math.ceil(self._ping_interval))
        result = {"client": self.client_id, "version": "floww", "ping": ping, "pong": True}
        self._outbox.put_frame(_reply(command_id, connect=result))

    async def _proxy_connect(self, command_id: int, body: dict[str, Any]) -> None:
        assert self._proxy is not None
        if body.get("token"):
            raise Disconnect.invalid_token()  # Centrifugo would check it as its own JWT
        request: dict[str, Any] = {"client": self.client_id, **_PROXY_FIELDS}
        request.update({k: body[k] for k in ("name", "version", "data") if k in body})
        answer = await self._ask(command_id, self._proxy.connect, request)
        if answer is None:
            return
        user = answer.get("user", "")
        if not isinstance(user, str):
            log.warning("realtime connect proxy answered a user that is not a string")
            self._outbox.put_frame(_error(command_id, 100, "internal server error", temporary=True))
            return
        self.user = user
        self._connected(command_id)

    async def _ask(
        self,
        command_id: int,
        call: Callable[[dict[str, Any], Mapping[str, str]], dict[str, Any]],
        request: dict[str, Any],
    ) -> dict[str, Any] | None:
        """The proxy's ``result``; ``None`` once its ``error`` (or a failure) was answered;
        ``Disconnect`` for its ``disconnect``."""
        try:
            answer = await run_in_threadpool(call, request, self._headers)
        except Exception as exc:
            log.warning("realtime proxy request failed: %s", exc)
            self._outbox.put_frame(_error(command_id, 100, "internal server error", temporary=True))
            return None
        disconnect = answer.get("disconnect")
        if isinstance(disconnect, dict):
            code = _code(disconnect.get("code"), 3000)
            raise Disconnect(code, str(disconnect.get("reason", "")))
        error = answer.get("error")
        if isinstance(error, dict):
            code, message = _code(error.get("code"), 100), str(error.get("message", ""))
            self._outbox.put_frame(
                _error(command_id, code, message, temporary=bool(error.get("temporary")))
            )
            return None
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    async def _subscribe(self, command_id: int, channel: str) -> None:
        if channel in self.channels:
            self._outbox.put_frame(_error(command_id, 105, "already subscribed"))
            return
        if self._proxy is not None:
            request: dict[str, Any] = {
                "client": self.client_id,
                **_PROXY_FIELDS,
                "user": self.user or "",
                "channel": channel,
            }
            if await self._ask(command_id, self._proxy.subscribe, request) is None:
                return
            self._attach(command_id, channel)
            return
        assert self.principal is not None
        try:
            allowed = await run_in_threadpool(self._may_subscribe, self.principal, channel)
        except (PermissionDenied, NotFound, Unauthenticated):
            allowed = False
        except FlowwError as exc:
            log.warning("realtime subscribe to %s failed: %s", channel, exc)
            self._outbox.put_frame(_error(command_id, 100, "internal server error", temporary=True))
            return
        except Exception:
            log.exception("realtime subscribe to %s failed", channel)
            self._outbox.put_frame(_error(command_id, 100, "internal server error", temporary=True))
            return
        if not allowed:
            self._outbox.put_frame(_error(command_id, 103, "permission denied"))
            return
        self._attach(command_id, channel)

    async def _rpc(self, command_id: int, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("method", ""), str):
            raise Disconnect.bad_request()
        method, data = body.get("method", ""), body.get("data")
        if self._proxy is not None:
            if not self._proxy.offers_rpc:
                self._outbox.put_frame(_error(command_id, 108, "not available"))
                return
            request: dict[str, Any] = {
                "client": self.client_id,
                **_PROXY_FIELDS,
                "user": self.user or "",
                "method": method,
                "data": data,
            }
            result = await self._ask(command_id, self._proxy.rpc, request)
            if result is not None:
                self._outbox.put_frame(_reply(command_id, rpc={"data": result.get("data")}))
            return
        if self._rpc_handlers is None:
            self._outbox.put_frame(_error(command_id, 108, "not available"))
            return
        assert self.principal is not None
        if not await self._still_authenticated(command_id):
            return
        if self._rpc_handler is None:
            self._rpc_handler = self._rpc_handlers(self.principal)
        try:
            answer = await run_in_threadpool(self._rpc_handler, method, data)
        except FlowwError as exc:
            self._outbox.put_frame(_reply(command_id, error=rpc_error(exc)))
            return
        except Exception:
            log.exception("realtime RPC %s failed", method)
            self._outbox.put_frame(_error(command_id, 100, "internal server error", temporary=True))
            return
        self._outbox.put_frame(_reply(command_id, rpc={"data": answer}))

    async def _still_authenticated(self, command_id: int) -> bool:
        """Whether the connection's token still stands for its principal (checked again once
        ``RPC_AUTH_TTL_S`` passed); answers the RPC with error 101 or 100 when not."""
        if self._token:
            now = time.monotonic()
            if now < self._authenticated_until:
                return True
            try:
                current = await run_in_threadpool(self._authenticate, self._token)
            except Unauthenticated:
                current = None
            except Exception as exc:
                log.warning("realtime RPC: authentication failed: %s", exc)
                self._outbox.put_frame(
                    _error(command_id, 100, "internal server error", temporary=True)
                )
                return False
            if current == self.principal:
                self._authenticated_until = now + self._rpc_auth_ttl_s
                return True
            self._token = ""  # never again on this connection
        self._outbox.put_frame(_error(command_id, 101, "unauthorized"))
        return False

    def _attach(self, command_id: int, channel: str) -> None:
        if channel in self.channels:  # a concurrent duplicate won the race
            self._outbox.put_frame(_error(command_id, 105, "already subscribed"))
            return
        # Reply first, attach second, with no await between: the writer cannot send the reply
        # before the attach, and every publication after the attach is queued behind the reply.
        self._outbox.put_frame(_reply(command_id, subscribe={}))
        self.channels.add(channel)
        self._hub.attach(channel, self._outbox)


def _code(value: Any, default: int) -> int:
    """A proxy's code as Centrifugo reads it: a non-negative integer, else ``default``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


def _bearer(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _channel_of(body: Any) -> str:
    channel = body.get("channel") if isinstance(body, dict) else None
    if not isinstance(channel, str) or not channel:
        raise Disconnect.bad_request()
    return channel


async def _read(websocket: WebSocket, session: ClientSession) -> Disconnect | None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is None:
            return Disconnect.bad_request()
        try:
            await session.handle(text)
        except Disconnect as disconnect:
            return disconnect


async def _write(websocket: WebSocket, outbox: Outbox) -> Disconnect | None:
    while True:
        items = await outbox.take()
        if items is None:
            return Disconnect.slow() if outbox.overflowed else None
        try:
            await websocket.send_text(encode_frame(items))
        except Exception:  # the peer went away mid-send; the reader sees the disconnect
            return None


async def _ping(session: ClientSession, outbox: Outbox, interval: float) -> Disconnect:
    await asyncio.sleep(interval)
    if not session.connected:
        return Disconnect.stale()
    while True:
        session.heard_from = False
        outbox.put_frame("{}")
        await asyncio.sleep(interval)
        if not session.heard_from:
            return Disconnect.no_pong()


def realtime_route(
    hub: RealtimeHub,
    *,
    authenticate: Callable[[str], Principal],
    may_subscribe: Callable[[Principal, str], bool],
    path: str = "/connection/websocket",
    ping_interval: float = 25.0,
    max_pending: int = DEFAULT_MAX_PENDING,
    proxy: ProxyCalls | None = None,
    rpc: RpcHandlers | None = None,
) -> WebSocketRoute:
    """The websocket route of the realtime endpoint. ``authenticate`` maps a token to a
    principal or raises ``Unauthenticated``; ``may_subscribe`` says whether a principal may
    listen on a channel; ``rpc`` makes each connection's RPC handler (none: RPCs are not
    available). All may block. With ``proxy`` the endpoint plays Centrifugo and asks the
    proxies instead (``authenticate``, ``may_subscribe`` and ``rpc`` are then unused)."""

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        outbox = Outbox(asyncio.get_running_loop(), max_pending)
        session = ClientSession(
            hub,
            outbox,
            authenticate=authenticate,
            may_subscribe=may_subscribe,
            ping_interval=ping_interval,
            proxy=proxy,
            headers={k.lower(): v for k, v in websocket.headers.items()},
            rpc=rpc,
        )
        endings: list[Disconnect | None] = []

        async def until_first_ends(part: Awaitable[Disconnect | None]) -> None:
            endings.append(await part)
            parts.cancel_scope.cancel()

        try:
            async with anyio.create_task_group() as parts:
                parts.start_soon(until_first_ends, _read(websocket, session))
                parts.start_soon(until_first_ends, _write(websocket, outbox))
                parts.start_soon(until_first_ends, _ping(session, outbox, ping_interval))
        finally:
            session.close()
        ending = endings[0] if endings else None
        if ending is not None:
            with contextlib.suppress(Exception):  # the client may be gone already
                await websocket.close(ending.code, ending.reason)

    return WebSocketRoute(path, endpoint)
