"""A realtime subscription over the Centrifugo client protocol, with the ``centrifuge-python``
client: the same code listens to a floww server's embedded hub and to a real Centrifugo.

The token travels in the websocket request's ``Authorization: Bearer`` header, not as a connect
token: the embedded hub reads it there, and Centrifugo forwards it to floww's connect and
subscribe proxies (a connect token would be checked by Centrifugo as its own JWT instead).

The client's asyncio loop runs in a background thread owned by the subscription. The constructor
blocks until the channel is subscribed, or raises:

- ``Unauthenticated`` when the server refuses the token (it does not retry);
- ``PermissionDenied`` when the token may not listen on the channel;
- ``Unavailable`` when the server cannot be reached, or nothing is subscribed within
  ``connect_timeout`` seconds.

``call`` sends an RPC over the same connection and waits for its answer (``RpcCaller``).

Once subscribed, a lost connection is re-established by the client library on its own (with
backoff), and the channel is subscribed again. Messages published while the connection was down
are lost: the subscription does not ask for missed messages. When the server ends the
connection or the subscription for good (token revoked, permission withdrawn) the subscription
closes itself: ``get`` returns ``None`` from then on and ``failure`` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from centrifuge import (
    Client,
    ClientDisconnectedError,
    ClientEventHandler,
    ClientState,
    DisconnectedContext,
    ErrorContext,
    OperationTimeoutError,
    PublicationContext,
    ReplyError,
    SubscribedContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)

from floww.adapters.http_client.realtime_rpc import RpcCaller, RpcNotSent
from floww.adapters.inbox import Inbox
from floww.domain.errors import (
    Conflict,
    FlowwError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from floww.ports.realtime import Subscription

__all__ = ["CentrifugeSubscription"]

log = logging.getLogger("floww.realtime")

# Centrifugo codes that mean "your credentials are no good": error 101 unauthorized, 109 token
# expired, disconnect 3500 invalid token, floww's connect proxy's disconnect 4501, and the
# client library's own "unauthorized" (1).
_UNAUTHORIZED_CODES = {1, 101, 109, 3500, 4501}
# The embedded hub's 103, and 403 from floww's subscribe proxy through Centrifugo.
_PERMISSION_DENIED = {103, 403}
_UNSUBSCRIBE_CALLED = 0
_DISCONNECT_CALLED = 0
# An RPC refused with these codes was never taken, nor will the next one be on this connection:
# 104 method not found, 108 not available (Centrifugo with no RPC proxy, or an older floww
# hub), 101 unauthorized (the token the connection was made with expired or was revoked; 1401
# is the same from the server's RPC proxy behind Centrifugo, which keeps the connection).
_RPC_NOT_OFFERED = {101, 104, 108, 1401}
_RPC_REFUSALS: dict[int, type[FlowwError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: PermissionDenied,
    409: Conflict,
}


def _refusal(code: int, message: str, method: str) -> FlowwError:
    """The domain error of an RPC's error code, carrying the server's message."""
    if code == 404:
        error: FlowwError = NotFound("RPC", method)
        error.message, error.args = message, (message,)
        return error
    return _RPC_REFUSALS.get(code, Unavailable)(message)


# The client library logs every command it sends at DEBUG, connect tokens included. Unless the
# application configured that logger itself, keep it above DEBUG so tokens never reach a log.
_vendor_log = logging.getLogger("centrifuge")
if _vendor_log.level == logging.NOTSET:
    _vendor_log.setLevel(logging.INFO)


class CentrifugeSubscription(Subscription, RpcCaller):
    def __init__(self, url: str, token: str, channel: str, *, connect_timeout: float = 10) -> None:
        self.url = url
        self.channel = channel
        self.failure: FlowwError | None = None
        self._inbox: Inbox[dict[str, Any]] = Inbox()
        self._settled = threading.Event()
        self._last_error = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"realtime {channel}", daemon=True
        )
        self._thread.start()
        self._client: Any = None
        deadline = time.monotonic() + connect_timeout
        try:
            asyncio.run_coroutine_threadsafe(
                self._start(token, connect_timeout), self._loop
            ).result(timeout=connect_timeout)
            if not self._settled.wait(max(0.0, deadline - time.monotonic())):
                detail = f": {self._last_error}" if self._last_error else ""
                raise Unavailable(
                    f"could not subscribe to {channel} at {url} within {connect_timeout:g} s"
                    f"{detail}"
                )
        except TimeoutError:
            self.close()
            raise Unavailable(f"the realtime server at {url} did not answer in time") from None
        except FlowwError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise Unavailable(f"could not subscribe to {channel} at {url}: {exc}") from exc
        except BaseException:
            self.close()
            raise
        if self.failure is not None:
            failure = self.failure
            self.close()
            raise failure

    def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next publication's data, or ``None`` after ``timeout`` seconds or once closed."""
        return self._inbox.get(timeout)

    def call(self, method: str, data: Any, timeout: float = 10.0) -> Any:
        """An RPC over this connection (``RpcCaller``)."""
        client = self._client
        if self._inbox.closed or client is None or client.state != ClientState.CONNECTED:
            raise RpcNotSent(f"the realtime connection to {self.url} is not up")
        sent = asyncio.run_coroutine_threadsafe(client.rpc(method, data, timeout), self._loop)
        try:
            return sent.result(timeout + 1).data
        except ReplyError as exc:
            if exc.code in _RPC_NOT_OFFERED:
                raise RpcNotSent(
                    f"{self.url} takes no RPC {method} on this connection ({exc.code})",
                    offered=False,
                ) from None
            raise _refusal(exc.code, str(exc.message), method) from None
        except ClientDisconnectedError:
            raise RpcNotSent(f"the realtime connection to {self.url} went down") from None
        except (OperationTimeoutError, TimeoutError):
            sent.cancel()
            raise Unavailable(f"{self.url} did not answer RPC {method} in time") from None

    def close(self) -> None:
        """Disconnect and stop the background thread; closing twice is harmless."""
        if not self._inbox.close():
            return
        if self._loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
            with contextlib.suppress(Exception):
                done.result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    async def _start(self, token: str, timeout: float) -> None:
        self._client = Client(
            self.url,
            events=_ClientEvents(self),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        subscription = self._client.new_subscription(self.channel, events=_ChannelEvents(self))
        await subscription.subscribe()
        # Returns after the first attempt; reconnects and resubscribes run in the background.
        await self._client.connect()

    async def _stop(self) -> None:
        if self._client is not None:
            await self._client.disconnect()
        # The client closes its socket in background tasks: let them finish, then end the rest.
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=2)
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

    def _settle(self, failure: FlowwError | None) -> None:
        if self._settled.is_set():
            if failure is not None:  # ended for good after it was subscribed
                log.warning("realtime subscription to %s ended: %s", self.channel, failure)
                self.failure = failure
                self._inbox.close()
            return
        self.failure = failure
        self._settled.set()


class _ClientEvents(ClientEventHandler):  # type: ignore[misc]
    def __init__(self, owner: CentrifugeSubscription) -> None:
        self._owner = owner

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        if ctx.code == _DISCONNECT_CALLED:
            return
        if ctx.code in _UNAUTHORIZED_CODES:
            failure: FlowwError = Unauthenticated(
                f"the realtime server at {self._owner.url} refused the token ({ctx.reason})"
            )
        else:
            failure = Unavailable(
                f"the realtime server at {self._owner.url} closed the connection: "
                f"{ctx.reason} ({ctx.code})"
            )
        self._owner._settle(failure)

    async def on_error(self, ctx: ErrorContext) -> None:
        self._owner._last_error = str(ctx.error) or type(ctx.error).__name__


class _ChannelEvents(SubscriptionEventHandler):  # type: ignore[misc]
    def __init__(self, owner: CentrifugeSubscription) -> None:
        self._owner = owner

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        self._owner._settle(None)

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        if ctx.code == _UNSUBSCRIBE_CALLED:
            return
        channel = self._owner.channel
        if ctx.code in _PERMISSION_DENIED:
            failure: FlowwError = PermissionDenied(f"not allowed to listen on {channel}")
        elif ctx.code in _UNAUTHORIZED_CODES:
            failure = Unauthenticated(f"the token may not listen on {channel} ({ctx.reason})")
        else:
            failure = Unavailable(f"subscription to {channel} ended: {ctx.reason} ({ctx.code})")
        self._owner._settle(failure)

    async def on_publication(self, ctx: PublicationContext) -> None:
        data = ctx.pub.data
        if isinstance(data, dict):
            self._owner._inbox.put(data)
        else:
            log.warning("ignored a non-object message on %s", self._owner.channel)
