"""Webhook ingress: ``/webhook/{workflow_id}/{path}``, any method, handed to
``usecases.webhooks.handle_webhook`` with the raw body kept byte-exact.

The body is read chunk by chunk and refused with 413 past ``settings.max_body_bytes`` (or the
provider's own larger limit, where a webhook of that provider serves the path) before anything
is stored.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

import anyio
from starlette.datastructures import QueryParams, State
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from floww.domain.errors import FlowwError, Overloaded, Unavailable
from floww.domain.model import Execution, ExecutionStatus, Invocation, InvocationResult, Runtime
from floww.domain.providers import path_body_limit
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.executions import finish_run, prepare_run, retry_if_asked
from floww.domain.usecases.webhooks import (
    IncomingRequest,
    LaneRoute,
    WebhookResponse,
    answer_after_lane_wait,
    body_limit_for,
    handle_webhook,
    queue_on_slot,
    record_on_claimed_lane,
    response_for,
    runs_on_lane,
    submit_on_lane,
)
from floww.entrypoints.http.codec import ApiRoute, Doc, read_raw_body
from floww.entrypoints.http.errors import floww_error_response
from floww.ports.dispatcher import Dispatcher, Slot
from floww.ports.loop_bridge import run_on_loop

log = logging.getLogger("floww.webhooks")

T = TypeVar("T")

__all__ = ["METHODS", "ROUTES", "WebhookFirst", "render"]

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
"""``json.dumps`` with these options builds an encoder per call; one is kept instead."""


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's headers, repeated ones joined with commas (names arrive lower-cased)."""
    merged: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def render(answer: WebhookResponse) -> Response:
    """JSON for dicts, lists, numbers and booleans; ``text/plain`` for a string; no body for
    ``None``. The handler's own headers win, except ``content-length``."""
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
    # Webhooks share the platform's origin: no answer is sniffed into something else.
    headers["X-Content-Type-Options"] = "nosniff"
    has_type = any(k.lower() == "content-type" for k in headers)
    if answer.body is None:
        return Response(status_code=answer.status, headers=headers)
    if isinstance(answer.body, str):
        body = answer.body.encode()
        media = None if has_type else "text/plain; charset=utf-8"
    else:
        body = _ENCODE(answer.body).encode()
        media = None if has_type else "application/json"
    return Response(body, answer.status, headers=headers, media_type=media)


class _Webhook:
    """The route, as a bare ASGI app (an instance, so the router does not wrap it in a
    ``Request``: the framework's request objects cost as much as the rest of the event
    loop's part of a call). Errors raised here are answered by the app's exception handlers,
    as for every route."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await webhook(scope, receive, send)


async def webhook(scope: Scope, receive: Receive, send: Send) -> None:
    await (await _answer(scope, receive))(scope, receive, send)


async def _answer(scope: Scope, receive: Receive) -> Response:
    """The call's response, rendered; what the call is refused with is raised."""
    app_state = scope["app"].state
    deps = app_state.services.deps
    params = scope["path_params"]
    workflow_id = params["workflow_id"]
    method = scope["method"].upper()
    path = "/" + params["path"]
    # Webhook callers may wait for handlers for up to the response deadline: they get threads of
    # their own, so the API (and the dev replies they wait for) never queues behind them; and
    # one workflow holds a bounded share of them, so its callers never starve another's. (A
    # call to the active deployment is handled on a lane of its workflow instead, with the
    # event loop waiting: no thread per caller.) The
    # share is taken before the body is read, and a body larger than the server's limit is read
    # only for a provider webhook that takes one (GitHub's 25 MB), found first.
    limiter = _limiter(app_state)
    waiting = _take_share(app_state, workflow_id, deps.settings.webhook_calls_per_workflow)
    try:
        limit = deps.settings.max_body_bytes
        if path_body_limit(path, limit) > limit:
            limit = await anyio.to_thread.run_sync(
                body_limit_for, deps, workflow_id, method, path, limiter=limiter
            )
        headers = _headers(scope["headers"])
        body = await read_raw_body(receive, headers.get("content-length", ""), limit)
        query_string = scope["query_string"]
        incoming = IncomingRequest(
            workflow_id=workflow_id,
            method=method,
            path=path,
            headers=headers,
            query=dict(QueryParams(query_string)) if query_string else {},
            body=body,
        )
        answer = None
        route = runs_on_lane(deps, incoming)
        if route is not None:
            lanes = _loop_lanes(app_state, deps)
            if lanes is not None:
                answer = await _on_loop(deps, incoming, limiter, route, lanes)
            else:
                answer = await _on_lane(deps, incoming, limiter, route)
        if answer is None:
            answer = await anyio.to_thread.run_sync(handle_webhook, deps, incoming, limiter=limiter)
    finally:
        _give_share(waiting, workflow_id)
    return render(answer)


async def _on_lane(
    deps: ServerDeps,
    incoming: IncomingRequest,
    limiter: anyio.CapacityLimiter,
    route: LaneRoute,
) -> WebhookResponse | None:
    """A call to the active deployment, handled whole on a lane of its workflow while the
    event loop waits (no thread of its own); ``None`` when it is not one after all."""
    call = submit_on_lane(deps, incoming, route)
    # Woken by the lane's answer or by the deadline, whichever comes first (cheaper than
    # ``wrap_future`` and ``asyncio.wait``, which copy the outcome across and keep a waiter).
    loop = asyncio.get_running_loop()
    woken = loop.create_future()

    def answered(_done: object) -> None:  # on the lane's thread
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_wake, woken)

    call.future.add_done_callback(answered)
    timer = loop.call_later(deps.settings.response_deadline_s, _wake, woken)
    try:
        await woken
    finally:
        timer.cancel()
    if call.future.done() and not call.future.cancelled():
        return call.future.result()
    return await anyio.to_thread.run_sync(
        answer_after_lane_wait, deps, incoming, call, limiter=limiter
    )


async def _on_loop(
    deps: ServerDeps,
    incoming: IncomingRequest,
    limiter: anyio.CapacityLimiter,
    route: LaneRoute,
    lanes: _LoopLanes,
) -> WebhookResponse | None:
    """A call to the active deployment run on the event loop: a lane of its workflow is
    claimed here (waiting for one without recording anything), the execution recorded
    started, the worker's answer awaited, the outcome recorded; no thread in between. The
    caller waits until its response deadline: a call still waiting for a lane then is
    recorded queued (answered 202, run by a lane of the dispatcher when it gets there), and
    one still running is answered as running (its run goes on). ``None`` when the call is not
    one for a lane after all."""
    loop = asyncio.get_running_loop()
    until = loop.time() + deps.settings.response_deadline_s
    slot = deps.dispatcher.reserve(incoming.workflow_id)  # Overloaded, or Unavailable
    try:
        claimed = await lanes.claim(slot, incoming.workflow_id, until)
    except BaseException:
        slot.release()
        raise
    if not claimed:  # waited out the deadline: recorded queued now, in its queue place
        queued = await anyio.to_thread.run_sync(
            queue_on_slot, deps, incoming, route, slot, limiter=limiter
        )
        if queued is not None:
            return queued
        return await anyio.to_thread.run_sync(  # its route changed: answered now, as a lane's
            functools.partial(handle_webhook, deps, incoming, deadline=0), limiter=limiter
        )
    recorded: list[Execution] = []
    settled = loop.create_future()  # recorded, or the run ended without a record
    task = loop.create_task(_run_claimed(deps, incoming, route, slot, recorded, settled, limiter))

    _GOING_ON.add(task)  # kept until it ends, whether its caller still waits or not

    def ended(_task: object) -> None:
        slot.release()  # a task cancelled before it started never ran its ``finally``
        _wake(settled)
        _GOING_ON.discard(task)

    task.add_done_callback(ended)
    woken = loop.create_future()
    task.add_done_callback(lambda _task: _wake(woken))
    timer = loop.call_later(max(0.0, until - loop.time()), _wake, woken)
    try:
        await woken
        if not task.done():  # past the deadline: answered once its record is written
            await settled
    finally:
        timer.cancel()
    if task.done():
        return task.result()
    if not recorded:  # pragma: no cover - settled without a record means it ended
        return await asyncio.shield(task)
    task.add_done_callback(_log_failure)  # nobody awaits it any more
    return response_for(recorded[0])  # still running: answered as running, as on a lane


_GOING_ON: set[asyncio.Task[WebhookResponse | None]] = set()
"""Runs on the event loop not ended yet (the loop itself keeps only weak references)."""


def _log_failure(task: asyncio.Task[WebhookResponse | None]) -> None:
    """Log how a run nobody awaits failed, if it did (the class only: a message may carry
    secrets)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("a run on the event loop failed: %s", type(task.exception()).__name__)


async def _run_claimed(
    deps: ServerDeps,
    incoming: IncomingRequest,
    route: LaneRoute,
    slot: Slot,
    recorded: list[Execution],
    settled: asyncio.Future[None],
    limiter: anyio.CapacityLimiter,
) -> WebhookResponse | None:
    """The run of a call whose ``slot`` holds a claimed lane (given back once the handler
    ended, before its outcome is written): as ``run_with_retry`` runs it on a lane's thread,
    with the host's answer awaited. Its record, once written, is in ``recorded`` and
    ``settled`` is woken."""
    try:
        found = await _on_loop_or_thread(
            deps, limiter, record_on_claimed_lane, deps, incoming, route
        )
        if not isinstance(found, tuple):
            return found
        execution, deployment, trigger, workflow, runtime = found
        recorded.append(execution)
        _wake(settled)
        prepared = await _on_loop_or_thread(  # reads the providers' configs it maps
            deps, limiter, prepare_run, deps, execution, deployment, trigger, workflow, runtime
        )
        if isinstance(prepared, Execution):
            final = prepared
        else:
            host = cast(_AsyncHost, deps.host)
            try:
                result: InvocationResult | FlowwError = await host.invoke_async(
                    prepared.runtime, prepared.invocation, limiter
                )
            except FlowwError as exc:
                result = exc
            except Exception as exc:  # recorded as the host's failure, never left started
                log.error("the function host failed: %s", type(exc).__name__)
                result = Unavailable(f"the function host failed ({type(exc).__name__})")
            # The handler ended: its lane goes to the next call now, while the outcome is
            # written (on PostgreSQL a commit's wait, which held the lane before for no work).
            slot.release()
            final = await _on_loop_or_thread(deps, limiter, finish_run, deps, prepared, result)
        if final.status is not ExecutionStatus.COMPLETED:  # a retry may be recorded
            await anyio.to_thread.run_sync(retry_if_asked, deps, final, trigger, limiter=limiter)
        return response_for(final)
    finally:
        slot.release()


async def _on_loop_or_thread(
    deps: ServerDeps, limiter: anyio.CapacityLimiter, fn: Callable[..., T], *args: Any
) -> T:
    """``fn(*args)``, a use case that writes to the repository: on the loop, with the
    repository's writes awaited by the loop when it makes them so (PostgreSQL) or made inline
    (SQLite, short); on a thread when the write would first wait for another writer."""
    if getattr(deps.repo, "writes_on_loop", False):
        return await run_on_loop(fn, *args)
    if _writes_wait(deps):
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
    return fn(*args)


def _writes_wait(deps: ServerDeps) -> bool:
    """Whether the repository's next write would wait for another writer (a long one: a
    retention sweep, a deploy): the loop then hands it to a thread rather than wait."""
    probe = getattr(deps.repo, "writes_wait", None)
    return bool(probe is not None and probe())


class _AsyncHost(Protocol):
    async def invoke_async(
        self, runtime: Runtime, invocation: Invocation, limiter: anyio.CapacityLimiter
    ) -> InvocationResult: ...


class _Waiter:
    """A call of the event loop waiting for a lane with its ``slot``; ``granted`` once a
    lane was claimed for it (``_LoopLanes._freed``); ``woken`` is remade for each wait."""

    __slots__ = ("granted", "slot", "woken")

    def __init__(self, slot: Slot, woken: asyncio.Future[None]) -> None:
        self.slot = slot
        self.woken = woken
        self.granted = False


class _LoopLanes:
    """Calls of the event loop waiting for a lane of their workflow, first come first
    served: each lane that frees (a run on the loop or on a lane's thread ended; the
    dispatcher says so) is claimed at once for the first call waiting, which is then woken;
    a new call claims one itself only when none waits. Work waiting in the dispatcher's own
    queue goes before them all (recorded QUEUED, it is older). A closing dispatcher wakes
    every waiter, refused then."""

    def __init__(self, loop: asyncio.AbstractEventLoop, dispatcher: Dispatcher) -> None:
        self._loop = loop
        self._dispatcher = dispatcher
        self._waiting: dict[str, collections.deque[_Waiter]] = {}
        dispatcher.on_lane_free(self._freed_elsewhere)

    async def claim(self, slot: Slot, key: str, until: float) -> bool:
        """Claim a lane for ``slot``, waiting on the loop until ``until`` (``loop.time()``);
        ``False`` when none came in time. ``Unavailable`` once the dispatcher closes (the
        slot may hold a lane then: the caller gives it back)."""
        queue = self._waiting.get(key)
        if not queue and slot.claim_lane():
            return True
        if queue is None:
            queue = self._waiting[key] = collections.deque()
        me = _Waiter(slot, self._loop.create_future())
        queue.append(me)
        try:
            self._freed(key)  # a lane freed before this call was queued woke nobody
            while not me.granted:
                if self._dispatcher.closed:
                    raise Unavailable("the server is shutting down")
                if self._loop.time() >= until:
                    return False
                timer = self._loop.call_later(max(0.0, until - self._loop.time()), _wake, me.woken)
                try:
                    await me.woken
                finally:
                    timer.cancel()
                me.woken = self._loop.create_future()
            if self._dispatcher.closed:
                raise Unavailable("the server is shutting down")
            return True
        finally:
            if me in queue:
                queue.remove(me)
            if not queue and self._waiting.get(key) is queue:
                del self._waiting[key]

    def _freed(self, key: str) -> None:
        """On the loop: claim the free lanes of ``key`` for its first waiters, in order, and
        wake them (wake every waiter, for ``""``: the dispatcher closed)."""
        if not key:
            for waiters in self._waiting.values():
                for waiter in waiters:
                    _wake(waiter.woken)
            return
        queue = self._waiting.get(key)
        while queue:
            waiter = queue[0]
            if not waiter.slot.claim_lane():
                return
            waiter.granted = True
            queue.popleft()
            _wake(waiter.woken)

    def _freed_elsewhere(self, key: str) -> None:
        """The dispatcher's listener (any thread; a run of the loop frees its lane there).
        A key nobody waits for is skipped: a call that starts waiting claims what is free
        itself, after it queued."""
        if key and key not in self._waiting:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._freed(key)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
            self._loop.call_soon_threadsafe(self._freed, key)


def _loop_lanes(state: State, deps: ServerDeps) -> _LoopLanes | None:
    """The app's lanes on the running event loop, when calls run there
    (``HttpServices.webhooks_on_loop``)."""
    if not state.services.webhooks_on_loop or not hasattr(deps.host, "invoke_async"):
        return None
    loop = asyncio.get_running_loop()
    current: _LoopLanes | None = getattr(state, "loop_lanes", None)
    if current is None or current._loop is not loop:
        current = state.loop_lanes = _LoopLanes(loop, deps.dispatcher)
    return current


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


WEBHOOK_THREADS = 200


def _take_share(state: State, workflow_id: str, limit: int) -> collections.Counter[str]:
    """One call of ``workflow_id`` in flight (given back with ``_give_share``); ``Overloaded``
    (503, ``Retry-After``) past ``limit`` at once. Counted on the event loop's thread, so no
    lock is needed."""
    waiting: collections.Counter[str] | None = getattr(state, "webhook_calls", None)
    if waiting is None:
        waiting = state.webhook_calls = collections.Counter()
    if waiting[workflow_id] >= limit:
        raise Overloaded(
            f"this workflow has {limit} webhook calls in flight already; retry shortly",
            retry_after_s=1.0,
        )
    waiting[workflow_id] += 1
    return waiting


def _give_share(waiting: collections.Counter[str], workflow_id: str) -> None:
    waiting[workflow_id] -= 1
    if not waiting[workflow_id]:
        del waiting[workflow_id]


def _limiter(state: State) -> anyio.CapacityLimiter:
    """The app's webhook limiter for the running event loop (a limiter belongs to one loop)."""
    loop = asyncio.get_running_loop()
    current: tuple[object, anyio.CapacityLimiter] | None = getattr(state, "webhook_limiter", None)
    if current is None or current[0] is not loop:
        current = (loop, anyio.CapacityLimiter(WEBHOOK_THREADS))
        state.webhook_limiter = current
    return current[1]


class WebhookFirst:
    """Middleware that takes a webhook call straight to its route: the router's matching of
    every route and the exception middleware's layer are skipped for the traffic that is
    most of a server's (their cost was a tenth of the event loop's part of a call). A call
    the route would not take whole (another method, a mounted root path) goes through the
    app as any other. A refusal (``FlowwError``) is answered as the app's handler answers
    it; anything else rises to the outer middleware, as from any route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        route = ROUTES[0]
        self._match = route.path_regex.match  # as the route matches
        self._convert = route.param_convertors
        self._methods = route.methods or set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            self._match(scope["path"])
            if scope["type"] == "http"
            and not scope.get("root_path")
            and scope["method"] in self._methods
            else None
        )
        if found is None:
            await self.app(scope, receive, send)
            return
        scope["path_params"] = {
            key: self._convert[key].convert(value) for key, value in found.groupdict().items()
        }
        try:
            response = await _answer(scope, receive)
        except FlowwError as exc:
            response = floww_error_response(exc)
        await response(scope, receive, send)


ROUTES = [
    ApiRoute(
        "/webhook/{workflow_id}/{path:path}",
        _Webhook(),
        methods=METHODS,
        doc=Doc(
            "Deliver an event to a workflow's webhook; answers with the handler's result",
            body={},
            response={},
            auth=False,
            tag="webhooks",
        ),
    )
]
