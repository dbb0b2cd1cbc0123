"""The incoming webhook, as docs/architecture.md ("Flows") lays it out:

find the webhook -> verify a provider delivery -> record the execution durably (deduplicated
on the delivery id) -> deliver to listening dev sessions -> run the active deployment -> answer.

Both a dev session and the deployment receive the event when both declare the trigger; the
caller gets the deployment's answer when there is one, the dev session's otherwise.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import attrs

from floww.domain.errors import Conflict, NotFound, PayloadTooLarge, Unauthenticated, Unavailable
from floww.domain.model import (
    Deployment,
    ErrorInfo,
    Execution,
    ExecutionStatus,
    InvocationResult,
    Principal,
    Runtime,
    Trigger,
    TriggerSource,
    Webhook,
    Workflow,
)
from floww.domain.providers import body_limit, path_body_limit, verify_delivery
from floww.domain.usecases.authentication import authenticate
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.dev_sessions import dev_answerer
from floww.domain.usecases.executions import (
    RoutesMoved,
    complete_execution,
    new_execution,
    outcome,
    queue_execution,
    run_with_retry,
)
from floww.domain.usecases.routing_tables import RoutingTable
from floww.domain.wiredict import spec_as_dict
from floww.ports.dev_sessions import DevSessionLease
from floww.ports.dispatcher import Slot
from floww.ports.loop_bridge import off_loop
from floww.ports.realtime import workflow_channel

log = logging.getLogger("floww.webhooks")

__all__ = [
    "UNSTORED_HEADERS",
    "IncomingRequest",
    "LaneCall",
    "WebhookResponse",
    "answer_after_lane_wait",
    "deliver_dev_reply",
    "dev_event_message",
    "handle_webhook",
    "method_not_allowed",
    "parse_body",
    "queue_on_slot",
    "record_on_claimed_lane",
    "response_for",
    "runs_on_lane",
    "submit_dev_reply",
    "submit_on_lane",
    "webhook_event",
]

RESPONSE_MARKER = "$response"

# A caller's credentials never reach the stored execution (nor, therefore, the handler):
# docs/decisions.md, "Webhook callers' credentials are not stored".
UNSTORED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


@attrs.frozen
class IncomingRequest:
    workflow_id: str
    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes = attrs.field(repr=False)


@attrs.frozen
class WebhookResponse:
    """What to answer the caller: ``body`` is JSON-able, ``str`` or ``None`` (no content)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    execution_id: str | None = None


# Headers a handler may not set: they would act for the platform's own origin (cookies) or
# on the connection itself.
_FORBIDDEN_HEADERS = {"set-cookie", "connection", "transfer-encoding", "content-length"}


def _handler_response(spec: Any, headers: dict[str, str], execution_id: str) -> WebhookResponse:
    """A ``floww.Response`` as the handler returned it, checked: a status of 100-599, header
    names and values without line breaks, no cookies. Webhooks share the platform's origin,
    so responses never sniff a type and HTML runs sandboxed."""
    if not isinstance(spec, dict):
        return _broken_response(execution_id, headers, "the handler's Response is malformed")
    status = spec.get("status", 200)
    raw_headers = spec.get("headers") or {}
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return _broken_response(
            execution_id, headers, f"the handler's status {status!r} is invalid"
        )
    if not isinstance(raw_headers, dict):
        return _broken_response(execution_id, headers, "the handler's headers are malformed")
    merged: dict[str, str] = {}
    for name, value in raw_headers.items():
        key, text = str(name).lower(), str(value)
        if any(c in key + text for c in "\r\n\0") or not key:
            return _broken_response(
                execution_id, headers, f"the handler's header {key!r} is invalid"
            )
        if key not in _FORBIDDEN_HEADERS:
            merged[key] = text
    merged["x-content-type-options"] = "nosniff"
    if "html" in merged.get("content-type", "") or "xml" in merged.get("content-type", ""):
        merged["content-security-policy"] = "sandbox"
    merged.update(headers)
    return WebhookResponse(status, spec.get("body"), merged, execution_id)


def _broken_response(execution_id: str, headers: dict[str, str], why: str) -> WebhookResponse:
    error = {"type": "InvalidResponse", "message": why}
    return WebhookResponse(
        500, {"error": error, "execution_id": execution_id}, headers, execution_id
    )


def response_for(execution: Execution) -> WebhookResponse:
    """The HTTP answer a finished (or still running) execution gives a builtin webhook."""
    headers = {"x-floww-execution-id": execution.id}
    if execution.status == ExecutionStatus.COMPLETED:
        result = execution.result
        if isinstance(result, dict) and set(result) == {RESPONSE_MARKER}:
            return _handler_response(result[RESPONSE_MARKER], headers, execution.id)
        if result is None:
            return WebhookResponse(204, None, headers, execution.id)
        return WebhookResponse(200, result, headers, execution.id)
    if execution.status == ExecutionStatus.TIMED_OUT:
        said = execution.error.message if execution.error is not None else ""
        error = {"type": "DeadlineExceeded", "message": said or "the handler ran past its deadline"}
        return WebhookResponse(
            504, {"error": error, "execution_id": execution.id}, headers, execution.id
        )
    if execution.status == ExecutionStatus.INTERRUPTED:
        error = {
            "type": "Interrupted",
            "message": "the server stopped while the handler ran; it may have run",
        }
        return WebhookResponse(
            500, {"error": error, "execution_id": execution.id}, headers, execution.id
        )
    if execution.status == ExecutionStatus.FAILED:
        error = {
            "type": "ExecutionFailed",
            "message": "the handler failed; see the execution's logs",
        }
        return WebhookResponse(
            500, {"error": error, "execution_id": execution.id}, headers, execution.id
        )
    return WebhookResponse(
        202, {"execution_id": execution.id, "status": execution.status.value}, headers, execution.id
    )


def parse_body(headers: Mapping[str, str], body: bytes) -> Any:
    """The body handlers see: JSON when declared (text when it does not parse), text for text,
    forms and undeclared bodies, ``None`` otherwise (the raw bytes are always in the event)."""
    content_type = headers.get("content-type", "")
    if not body:
        return None
    if "json" in content_type:
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            return body.decode("utf-8", "replace")
    if content_type.startswith("text/") or "form" in content_type or not content_type:
        return body.decode("utf-8", "replace")
    return None


def webhook_event(
    method: str,
    path: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    path_params: Mapping[str, str],
) -> dict[str, Any]:
    """The wire event of a builtin webhook, the same on the server and in ``floww dev``.
    The caller's credentials (``UNSTORED_HEADERS``) are left out: the event is stored."""
    return {
        "method": method,
        "path": path,
        "headers": {k: v for k, v in headers.items() if k.lower() not in UNSTORED_HEADERS},
        "query": dict(query),
        "body": parse_body(headers, body),
        "raw_body_b64": base64.b64encode(body).decode(),
        "path_params": dict(path_params),
    }


def _trigger(deps: ServerDeps, known: Mapping[str, Trigger], trigger_id: str) -> Trigger:
    """The trigger from the routing table, read from the repository if it is not there."""
    trigger = known.get(trigger_id)
    return trigger if trigger is not None else deps.repo.get_trigger(trigger_id)


def dev_event_message(
    deps: ServerDeps,
    execution: Execution,
    trigger: Trigger,
    namespace_id: str,
    *,
    awaits_reply: bool = True,
    answerer: str | None = None,
) -> dict[str, Any]:
    """The realtime message for dev sessions. ``reply_to`` is ``None`` when the caller gets
    its answer elsewhere (the active deployment's), so the session only observes the event;
    ``answerer`` names the one dev session that answers it (the others observe)."""
    # Only an event a session answers needs a token (to reply, and for ``ctx.kv``): one the
    # sessions only observe carries none, so no live token travels where it is not used.
    token = (
        deps.tokens.issue_execution_token(
            namespace_id=namespace_id,
            workflow_id=execution.workflow_id,
            execution_id=execution.id,
            ttl_seconds=deps.settings.execution_token_ttl_s,
        )
        if awaits_reply
        else None
    )
    return {
        "type": "event",
        "event_id": execution.id,
        "trigger": spec_as_dict(trigger.spec),
        "event": execution.event,
        "token": token,
        "reply_to": execution.id if awaits_reply else None,
        "answerer": answerer,
    }


def method_not_allowed(method: str, path: str, allowed: list[str]) -> WebhookResponse:
    """The answer to a known path called with a method it does not accept."""
    error = {
        "type": "MethodNotAllowed",
        "message": f"{path} accepts {', '.join(allowed)}, not {method}",
    }
    return WebhookResponse(405, {"error": error}, {"allow": ", ".join(allowed)})


def body_limit_for(deps: ServerDeps, workflow_id: str, method: str, path: str) -> int:
    """How large a request to ``method path`` of the workflow may be, known before its body is
    read: a provider's own limit (25 MB for GitHub) only where a webhook of that provider
    serves the path, the server's webhook limit otherwise (unknown workflows included)."""
    default = deps.settings.max_body_bytes
    if path_body_limit(path, default) == default:
        return default  # no provider with a larger limit is named by the path: no lookup
    table = deps.routing.table(deps.repo, workflow_id)
    if table is None:
        return default
    owners = [hook.owner.type for hook, _ in table.webhooks.find(method.upper(), path)]
    return max((body_limit(owner, default) for owner in owners), default=default)


def handle_webhook(
    deps: ServerDeps, request: IncomingRequest, *, deadline: float | None = None
) -> WebhookResponse:
    """Raises ``NotFound`` (no such webhook), ``Unauthenticated`` (a provider delivery that is
    not genuine) and ``PayloadTooLarge``; every other outcome is an answer. ``deadline`` is
    how long the caller waits for a run (the server's response deadline by default)."""
    answer = _handle(deps, request, lane=None, deadline=deadline)
    assert answer is not None
    return answer


@attrs.frozen
class LaneRoute:
    """Where the table in memory sends a call (``runs_on_lane``): the lane reuses the lookup
    while that table is still the current one."""

    table: RoutingTable
    found: list[tuple[Webhook, dict[str, str]]]


def runs_on_lane(deps: ServerDeps, request: IncomingRequest) -> LaneRoute | None:
    """Whether the workflow's routing table, as this process last read it, sends ``request``
    to the active deployment with the caller waiting for the answer: such a call is handled
    whole on one of the workflow's lanes (``submit_on_lane``), and the route found is given
    (``None`` otherwise). Reads nothing; the lane checks again against the current table."""
    table = deps.routing.cached(deps.repo, request.workflow_id)
    if table is None or table.active is None:
        return None
    found = table.webhooks.find(request.method, request.path)
    if (
        found
        and found[0][0].owner.type == "builtin"
        and any(hook.source is TriggerSource.DEPLOYMENT for hook, _ in found)
    ):
        return LaneRoute(table, found)
    return None


@attrs.define(eq=False)
class LaneCall:
    """A call handed to a lane (``submit_on_lane``). ``future`` gives its answer, or ``None``
    when it is not one for the lane after all; ``execution_id`` is set once its execution is
    recorded, and ``settled`` once the lane recorded it or ended without recording one. When
    its caller's deadline passes before a lane takes it, the call is recorded as queued where
    it waits (``queued``), and the lane runs that record when it gets there; a caller that
    answered otherwise (an error, a duplicate, a route gone) hands it back, and the lane then
    drops it. ``lock`` orders the two: a lane takes the call (``taken``) or the caller settles
    it."""

    # the lane's own, set by ``submit_on_lane`` (none is made here only to be replaced)
    future: Future[WebhookResponse | None] = attrs.field(init=False)
    execution_id: str | None = None
    settled: threading.Event = attrs.field(factory=threading.Event)
    lock: threading.Lock = attrs.field(factory=threading.Lock)
    taken: bool = False
    handed_back: bool = False
    queued: tuple[Execution, Deployment, Trigger, Workflow, Runtime | None] | None = None
    route: LaneRoute | None = None
    deferred: bool = False


def submit_on_lane(
    deps: ServerDeps, request: IncomingRequest, route: LaneRoute | None = None
) -> LaneCall:
    """Handle ``request`` on one of its workflow's lanes once one is free: the execution is
    recorded as started there (one write), run and completed (one write), with no other
    thread in between. Nothing is recorded while the call waits for a lane, unless its
    caller's deadline passes first (``answer_after_lane_wait``). The answer is ``None`` when
    the current table no longer sends the call to the deployment (it changed since
    ``runs_on_lane``): handle it with ``handle_webhook``. ``Overloaded`` when the workflow's
    queue is full, ``Unavailable`` once the server is stopping. ``route`` is what
    ``runs_on_lane`` found, reused while its table is current."""
    call = LaneCall(route=route)
    slot = deps.dispatcher.reserve(request.workflow_id)
    call.future = slot.submit(lambda: _take(deps, request, call))
    return call


RunOnLane = tuple[Execution, Deployment, Trigger, Workflow, "Runtime | None"]
"""What ``record_on_claimed_lane`` recorded started, for its caller to run."""


def record_on_claimed_lane(
    deps: ServerDeps, request: IncomingRequest, route: LaneRoute
) -> WebhookResponse | RunOnLane | None:
    """``submit_on_lane`` for a caller that holds a lane of the workflow already (claimed
    from the dispatcher) and runs the deployment itself: the execution is recorded started
    (one write) and given back to run, with ``run_with_retry``'s steps. A ``WebhookResponse``
    when the call is answered without a run (a duplicate delivery, say); ``None`` when the
    current table no longer sends it to the deployment (``handle_webhook`` answers it)."""
    call = LaneCall(route=route, deferred=True)
    call.taken = True
    answer = _handle(deps, request, lane=call, deadline=None)
    if answer is None or call.queued is None:
        return answer
    return call.queued


def queue_on_slot(
    deps: ServerDeps, request: IncomingRequest, route: LaneRoute, slot: Slot
) -> WebhookResponse | None:
    """For a call that waited for a lane until its caller's deadline, holding ``slot`` (a
    place in the workflow's queue): the execution is recorded QUEUED and submitted through
    that place, run when a lane gets to it; the answer is 202 with its id. ``None`` when the
    table no longer sends the call to the deployment (``handle_webhook`` answers it). The
    slot is used or given back either way."""
    call = LaneCall(route=route)
    call.taken = True
    try:
        answer = _handle(deps, request, lane=call, deadline=None, record_only=True)
    except BaseException:
        slot.release()
        raise
    queued = call.queued
    if queued is None:
        slot.release()
        return answer
    slot.submit(lambda: response_for(run_with_retry(deps, *queued)))
    return answer


def _take(deps: ServerDeps, request: IncomingRequest, call: LaneCall) -> WebhookResponse | None:
    try:
        with call.lock:
            call.taken = True
            queued, handed_back = call.queued, call.handed_back
        if handed_back:
            return None
        if queued is not None:  # recorded when its caller stopped waiting: run that record
            return response_for(run_with_retry(deps, *queued))
        return _handle(deps, request, lane=call, deadline=None)
    finally:
        call.settled.set()


def answer_after_lane_wait(
    deps: ServerDeps, request: IncomingRequest, call: LaneCall
) -> WebhookResponse:
    """The answer for a call handed to a lane whose caller waited out the response deadline
    (or whose lane was cancelled by a stopping server). One that no lane has taken yet is
    recorded as queued now, keeping its place, and answered so (it runs when a lane gets to
    it); one a lane runs is answered as it is stored now, once its record is written."""
    with call.lock:
        if not call.taken and not call.future.cancelled():
            try:
                answer = _handle(deps, request, lane=call, deadline=None, record_only=True)
            finally:
                # Whatever answers the caller now, other than a queued record, is the only
                # answer: the lane must not run the call later.
                call.handed_back = call.queued is None
            if answer is not None:
                return answer
    if call.future.cancelled() or call.handed_back:
        return handle_webhook(deps, request, deadline=0)
    call.settled.wait()  # taken: its record is being written (bounded by the database's time-outs)
    if call.execution_id is None:
        answer = call.future.result()
        return answer if answer is not None else handle_webhook(deps, request, deadline=0)
    if call.future.done() and call.future.exception() is None:
        done = call.future.result()
        if done is not None:
            return done
    return response_for(deps.repo.get_execution(call.execution_id))


def _handle(
    deps: ServerDeps,
    request: IncomingRequest,
    *,
    lane: LaneCall | None,
    deadline: float | None,
    record_only: bool = False,
) -> WebhookResponse | None:
    # On a lane the table in memory is used without reading its version first: the execution
    # is stored only if the version is still the table's (one statement), and every answer
    # given without storing one is given from a table read afresh.
    table = deps.routing.cached(deps.repo, request.workflow_id) if lane is not None else None
    if table is not None:
        assert lane is not None
        known = lane.route.found if lane.route is not None and lane.route.table is table else None
        try:
            return _route(
                deps, request, table, lane, deadline, record_only, checked=False, found=known
            )
        except RoutesMoved:
            pass
    table = deps.routing.table(deps.repo, request.workflow_id)
    if table is None:
        raise NotFound("webhook", f"{request.method} {request.path}")
    return _route(deps, request, table, lane, deadline, record_only, checked=True)


def _route(
    deps: ServerDeps,
    request: IncomingRequest,
    table: RoutingTable,
    lane: LaneCall | None,
    deadline: float | None,
    record_only: bool,
    *,
    checked: bool,
    found: list[tuple[Webhook, dict[str, str]]] | None = None,
) -> WebhookResponse | None:
    """``_handle`` with the workflow's ``table``; ``checked`` when its version was read for
    this request (``RoutesMoved`` instead of any answer that stores nothing, otherwise).
    ``found`` is the table's answer for the request when the caller has it already."""
    if found is None:
        found = table.webhooks.find(request.method, request.path)
    if not found:
        if not checked:
            raise RoutesMoved(request.workflow_id)
        allowed = table.webhooks.allowed_methods(request.path)
        if not allowed:
            raise NotFound("webhook", f"{request.method} {request.path}")
        return method_not_allowed(request.method, request.path, allowed)
    first = found[0][0]
    limit = body_limit(first.owner.type, deps.settings.max_body_bytes)
    if len(request.body) > limit:
        if not checked:
            raise RoutesMoved(request.workflow_id)
        raise PayloadTooLarge(len(request.body), limit)
    if first.owner.type != "builtin":
        return (
            None
            if lane is not None
            else _handle_delivery(deps, table, request, [h for h, _ in found])
        )
    by_source = {h.source: (h, params) for h, params in found}
    deployed = (
        by_source[TriggerSource.DEPLOYMENT][0] if TriggerSource.DEPLOYMENT in by_source else None
    )
    if lane is not None and (deployed is None or table.active is None):
        return None
    dev = by_source[TriggerSource.DEV][0] if TriggerSource.DEV in by_source else None
    primary = deployed or dev
    assert primary is not None
    trigger = _trigger(deps, table.triggers, primary.trigger_id)
    event = webhook_event(
        request.method,
        request.path,
        request.headers,
        request.query,
        request.body,
        by_source[primary.source][1],
    )
    key = request.headers.get("idempotency-key")
    # Scoped to the endpoint, so one route's answer is never replayed to another.
    dedupe_key = f"idempotency:{request.method} {request.path}:{key}" if key else None
    return _run_trigger(
        deps,
        table,
        trigger,
        deployed,
        dev,
        event,
        dedupe_key,
        None,
        lane=lane,
        deadline=deadline,
        record_only=record_only,
        routes_version=None if checked else table.version,
    )


def _handle_delivery(
    deps: ServerDeps, table: RoutingTable, request: IncomingRequest, hooks: list[Webhook]
) -> WebhookResponse:
    """A delivery to a provider alias's shared path: verified against each of its triggers'
    rules, run once for every trigger whose filters match (deduplicated per trigger)."""
    owner = hooks[0].owner
    provider = deps.repo.find_provider(table.workflow.namespace_id, owner)
    if provider is None:
        raise Unauthenticated(f"provider {owner.key} is not configured; cannot verify")
    # One entry per declared trigger: the deployment's webhook and a dev session's, by key.
    pairs: dict[str, dict[TriggerSource, tuple[Webhook, Trigger]]] = {}
    for hook in hooks:
        trigger = _trigger(deps, table.triggers, hook.trigger_id)
        pairs.setdefault(trigger.spec.key, {})[hook.source] = (hook, trigger)
    ignored: list[str] = []
    responses: list[WebhookResponse] = []
    runs: list[tuple[Webhook | None, Webhook | None, Trigger, Any, str | None, Any]] = []
    for trigger_key, sources in pairs.items():
        deployed_pair = sources.get(TriggerSource.DEPLOYMENT)
        dev_pair = sources.get(TriggerSource.DEV)
        primary_pair = deployed_pair or dev_pair
        assert primary_pair is not None
        trigger = primary_pair[1]
        delivery = verify_delivery(
            trigger.spec, provider.config, request.headers, request.body, deps.clock.now()
        )
        if delivery.reply is not None:  # a protocol reply (ping, URL check): answered once
            return WebhookResponse(200, delivery.reply)
        if delivery.ignored:
            ignored.append(delivery.ignored)
            continue
        dedupe_key = (
            f"delivery:{delivery.delivery_id}:{trigger_key}" if delivery.delivery_id else None
        )
        # An empty acknowledgement (Slack's slash commands) is an empty text body.
        direct_reply = "" if delivery.ack is None else delivery.ack
        runs.append(
            (
                deployed_pair[0] if deployed_pair else None,
                dev_pair[0] if dev_pair else None,
                trigger,
                delivery.event,
                dedupe_key,
                direct_reply,
            )
        )
    if not runs:
        return WebhookResponse(200, {"ignored": "; ".join(dict.fromkeys(ignored))})
    for deployed, dev, trigger, event, dedupe_key, direct_reply in runs:
        responses.append(
            _run_trigger(deps, table, trigger, deployed, dev, event, dedupe_key, direct_reply)
        )
    # The provider hears one answer: the first run's, unless it failed and another did not.
    return next((r for r in responses if r.status < 400), responses[0])


def _run_trigger(
    deps: ServerDeps,
    table: RoutingTable,
    trigger: Trigger,
    deployed: Webhook | None,
    dev: Webhook | None,
    event: Any,
    dedupe_key: str | None,
    direct_reply: Any,
    *,
    lane: LaneCall | None = None,
    deadline: float | None = None,
    record_only: bool = False,
    routes_version: int | None = None,
) -> WebhookResponse:
    """Record one execution of ``trigger`` and run it: on the active deployment when it
    declares the trigger (dev sessions observe), in a dev session otherwise. With ``lane``
    this runs on a lane of the workflow already: the deployment runs it here and now (or,
    with ``record_only``, it is recorded as queued for the lane that will take it)."""
    workflow = table.workflow
    primary = deployed or dev
    assert primary is not None
    # A place in the workflow's queue is held before anything is recorded: a full queue
    # refuses the request (``Overloaded``), and whatever is recorded is run or marked.
    deployment = table.active if deployed is not None else None
    # The dev session that answers (read once per event), when the event goes to one. Read
    # before a queue place is held, so a failed read leaves none behind; deployed runs go on
    # without it, as they go on untold when the realtime service is away.
    answerer = None
    if dev is not None:
        try:
            answerer = off_loop(dev_answerer, deps, workflow.id)  # a read, maybe
        except Unavailable:
            if deployed is None:
                raise
            log.warning("dev sessions of workflow %s not read; the deployment runs it", workflow.id)
    slot = deps.dispatcher.reserve(workflow.id) if deployment is not None and lane is None else None
    # With a lane free at once the execution is recorded as started: one write less; so is
    # an event a dev session answers (it runs there now).
    started = (
        slot.claim_lane()
        if slot is not None
        else (lane is not None and not record_only)
        or (deployed is None and answerer is not None and direct_reply is None)
    )
    try:
        execution = new_execution(
            deps,
            trigger,
            event,
            dedupe_key=dedupe_key,
            queued_for=deployment,
            started=started,
            routes_version=routes_version,
        )
    except Conflict:
        if slot is not None:
            slot.release()
        assert dedupe_key is not None
        seen = deps.repo.find_execution_by_dedupe_key(workflow.id, dedupe_key)
        if seen is None:
            raise
        if direct_reply is not None:
            return WebhookResponse(200, {"ok": True, "duplicate": True}, {}, seen.id)
        return response_for(seen)
    except BaseException:
        if slot is not None:
            slot.release()
        raise

    tell_observers = functools.partial(
        _tell_observers, deps, execution, workflow, dev, primary, trigger, table.triggers, answerer
    )
    if lane is not None and deployment is not None:
        lane.execution_id = execution.id
        if dev is not None:  # dev sessions watch: told beside the run, never delaying it
            deps.executor.submit(tell_observers)
        if record_only:
            lane.queued = (execution, deployment, trigger, workflow, table.runtime)
            return response_for(execution)
        lane.settled.set()
        if lane.deferred:  # recorded started: the caller runs it (``record_on_claimed_lane``)
            lane.queued = (execution, deployment, trigger, workflow, table.runtime)
            return response_for(execution)
        return response_for(
            run_with_retry(deps, execution, deployment, trigger, workflow, table.runtime)
        )

    if slot is not None and deployment is not None:
        # A provider delivery is acknowledged at once (``direct_reply``): nobody waits for
        # its answer, so a host that can runs it detached.
        future = queue_execution(
            deps,
            slot,
            execution,
            deployment,
            trigger,
            workflow,
            table.runtime,
            detached=direct_reply is not None,
        )
        tell_observers()
        if direct_reply is not None:
            return WebhookResponse(200, direct_reply, {}, execution.id)
        wait = deps.settings.response_deadline_s if deadline is None else deadline
        return response_for(outcome(deps, future, execution.id, wait))

    if deployed is not None:
        tell_observers()
        final = execution.transition(ExecutionStatus.NO_DEPLOYMENT, finished_at=deps.clock.now())
        deps.repo.update_execution(final)
        return response_for(final)

    if answerer is None:
        # Dev triggers left by a session that died: answer now instead of waiting it out.
        info = ErrorInfo("NoDevSession", "no dev session is connected to this workflow")
        final = execution.transition(
            ExecutionStatus.FAILED, error=info, finished_at=deps.clock.now()
        )
        deps.repo.update_execution(final)
        error = {
            "type": "NoDevSession",
            "message": "no `floww dev` session is connected; start one",
        }
        return WebhookResponse(
            503, {"error": error, "execution_id": execution.id}, {}, execution.id
        )
    deps.replies.open(execution.id)
    try:
        _tell_dev_sessions(
            deps,
            execution,
            workflow,
            dev,
            primary,
            trigger,
            table.triggers,
            answerer,
            awaits_reply=True,
        )
    except Unavailable as exc:
        # Nobody can hear the event: answer now rather than wait out the deadline.
        deps.replies.wait(execution.id, 0)  # releases the reply id
        info = ErrorInfo("RealtimeUnavailable", str(exc))
        final = execution.transition(
            ExecutionStatus.FAILED, error=info, finished_at=deps.clock.now()
        )
        deps.repo.update_execution(final)
        error = {
            "type": "Unavailable",
            "message": "the event cannot reach the `floww dev` session: the realtime service "
            "is unavailable; try again shortly",
        }
        return WebhookResponse(
            503, {"error": error, "execution_id": execution.id}, {}, execution.id
        )
    return _await_dev_reply(deps, execution, direct_reply)


def _tell_observers(
    deps: ServerDeps,
    execution: Execution,
    workflow: Workflow,
    dev: Webhook | None,
    primary: Webhook,
    trigger: Trigger,
    triggers: Mapping[str, Trigger],
    answerer: DevSessionLease | None,
) -> None:
    """Dev sessions only watch deployed runs: a realtime service that cannot be reached must
    not fail the deployed webhook."""
    try:
        _tell_dev_sessions(
            deps,
            execution,
            workflow,
            dev,
            primary,
            trigger,
            triggers,
            answerer,
            awaits_reply=False,
        )
    except Unavailable as exc:
        log.warning(
            "dev sessions of workflow %s not told of %s: %s", workflow.id, execution.id, exc
        )


def _tell_dev_sessions(
    deps: ServerDeps,
    execution: Execution,
    workflow: Workflow,
    dev: Webhook | None,
    primary: Webhook,
    trigger: Trigger,
    triggers: Mapping[str, Trigger],
    answerer: DevSessionLease | None,
    *,
    awaits_reply: bool,
) -> None:
    """Publish the event to the dev sessions of the workflow, when it has dev triggers; the
    event names the one session (``answerer``) that answers it (the others observe)."""
    if dev is None:
        return
    dev_trigger = trigger if dev is primary else _trigger(deps, triggers, dev.trigger_id)
    deps.realtime.publish(
        workflow_channel(workflow.id),
        dev_event_message(
            deps,
            execution,
            dev_trigger,
            workflow.namespace_id,
            awaits_reply=awaits_reply,
            answerer=answerer.session_id if answerer is not None else None,
        ),
    )


def _await_dev_reply(deps: ServerDeps, execution: Execution, direct_reply: Any) -> WebhookResponse:
    started = execution
    if execution.status is not ExecutionStatus.STARTED:  # recorded as started when received
        started = execution.transition(ExecutionStatus.STARTED, started_at=deps.clock.now())
        deps.repo.update_execution(started)
    t0 = deps.clock.monotonic()
    if direct_reply is not None:
        deps.executor.submit(_record_dev_reply, deps, started, t0)
        return WebhookResponse(200, direct_reply, {}, execution.id)
    return response_for(_record_dev_reply(deps, started, t0))


def _record_dev_reply(deps: ServerDeps, started: Execution, t0: float) -> Execution:
    reply = deps.replies.wait(started.id, deps.settings.response_deadline_s)
    elapsed = round((deps.clock.monotonic() - t0) * 1000, 3)
    if reply is None:
        info = ErrorInfo("DeadlineExceeded", "the dev session did not answer in time")
        final = started.transition(
            ExecutionStatus.TIMED_OUT, error=info, finished_at=deps.clock.now(), duration_ms=elapsed
        )
        deps.repo.update_execution(final)
        return final
    return complete_execution(deps, started, reply, duration_ms=elapsed)


def submit_dev_reply(
    deps: ServerDeps, *, execution_id: str, token: str, result: InvocationResult
) -> None:
    """A dev session answers an event. The token must be the execution token sent with it;
    ``Unauthenticated`` otherwise, ``NotFound`` when nobody waits any more."""
    principal = authenticate(token, identity=deps.identity, tokens=deps.tokens)
    deliver_dev_reply(deps, principal, execution_id=execution_id, result=result)


def deliver_dev_reply(
    deps: ServerDeps, claimed: Principal, *, execution_id: str, result: InvocationResult
) -> None:
    """``submit_dev_reply`` for a caller that verified the reply's token already: ``claimed``
    is what the token verified to (so it is verified once per reply). ``Unauthenticated``
    when it is not the execution token of this event, ``NotFound`` when nobody waits any
    more."""
    if claimed.kind != "execution" or claimed.execution_id != execution_id:
        raise Unauthenticated("the reply token does not belong to this event")
    deps.replies.deliver(execution_id, result)
