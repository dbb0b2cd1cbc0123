"""Client side of ``floww dev`` (docs/architecture.md, "Flows").

start: fetch the namespace's providers -> execute userspace -> verify every used provider is
configured (prompt for the missing ones, then start over) -> sync the dev triggers.
reload (a code change): execute userspace again; when the new code fails, the last good code
keeps serving and the failure is returned, not raised.
events: each realtime message is run on the current code and its result replied to the server.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import attrs

from floww.domain.errors import FlowwError, InvalidInput, NotFound, UserCodeError
from floww.domain.model import (
    CodeBundle,
    Definitions,
    ErrorInfo,
    ExecutionContext,
    Invocation,
    InvocationResult,
    ProviderRef,
    TriggerSpec,
    Workflow,
)
from floww.domain.usecases.providers import missing_providers
from floww.domain.wiredict import spec_from_dict
from floww.ports.platform import Platform
from floww.ports.support import Prompter
from floww.ports.userspace import UserspaceRunner

__all__ = [
    "DevEvent",
    "DevSession",
    "ReloadOutcome",
    "cron_left_to_deployment",
    "handle_dev_event",
    "handle_local_event",
    "reload_code",
    "renew_dev",
    "set_up_missing_providers",
    "start_dev",
    "stop_dev",
]


@attrs.define
class DevSession:
    """The state of one ``floww dev`` run: the last good code and what it declared."""

    workflow: Workflow
    read_code: Callable[[], CodeBundle]
    platform: Platform
    runner: UserspaceRunner
    prompter: Prompter
    api_url: str = ""
    local_token: str = ""
    deadline_ms: int = 60_000
    providers: dict[str, dict[str, str]] = attrs.field(factory=dict)
    code: CodeBundle | None = None
    definitions: Definitions | None = None
    definitions_seen: Definitions | None = None
    webhook_urls: tuple[str, ...] = ()
    local_runs: int = 0
    session_id: str = attrs.field(factory=lambda: f"dev_{secrets.token_hex(8)}")


@attrs.frozen
class ReloadOutcome:
    ok: bool
    definitions: Definitions | None = None
    definitions_seen: Definitions | None = None
    webhook_urls: tuple[str, ...] = ()
    error: UserCodeError | None = None
    providers_set_up: tuple[str, ...] = ()


@attrs.frozen
class DevEvent:
    """One event run by the session; ``reply_error`` says why the answer did not reach the
    server (``None`` when it did). ``observed``: the active deployment ran and answered it, so
    the session did not run it. ``elsewhere``: another dev session of the workflow answers it
    (the most recently connected one), so this one only observes it."""

    trigger: TriggerSpec
    result: InvocationResult
    reply_error: str | None = None
    observed: bool = False
    elsewhere: bool = False


def start_dev(session: DevSession) -> ReloadOutcome:
    """Run from "fetch providers". Raises ``ProviderNotConfigured`` only when the prompter
    cannot ask (no terminal)."""
    session.providers = session.platform.provider_configs(session.workflow.namespace_id)
    return reload_code(session)


def reload_code(session: DevSession) -> ReloadOutcome:
    """Run from "execute userspace"; keeps the last good code when the new code fails."""
    try:
        code = session.read_code()
        definitions = session.runner.load(code, session.providers)
    except UserCodeError as exc:
        return ReloadOutcome(ok=False, definitions=session.definitions, error=exc)
    session.definitions_seen = definitions
    missing = missing_providers(definitions.providers, session.providers)
    if missing:
        set_up = set_up_missing_providers(session, [ref.key for ref in missing])
        outcome = start_dev(session)
        return attrs.evolve(outcome, providers_set_up=tuple(set_up) + outcome.providers_set_up)
    urls = session.platform.sync_dev_triggers(
        session.workflow.id, definitions.triggers, session_id=session.session_id
    )
    session.code, session.definitions, session.webhook_urls = code, definitions, urls
    return ReloadOutcome(ok=True, definitions=definitions, webhook_urls=urls)


def set_up_missing_providers(session: DevSession, keys: list[str]) -> list[str]:
    """Ask for each missing provider's fields (secret ones hidden) and store them."""
    done: list[str] = []
    for key in keys:
        ref = ProviderRef.parse(key)
        declared = session.definitions_seen.provider_fields if session.definitions_seen else {}
        fields = declared.get(key) or session.platform.provider_fields(ref.type)
        session.prompter.say(
            f"Provider {key} is used by the code but not configured; set it up now."
        )
        config = {f.name: session.prompter.ask(f, provider=key) for f in fields}
        session.platform.setup_provider(session.workflow.namespace_id, ref, config)
        done.append(key)
    return done


def _invoke(
    session: DevSession, spec: TriggerSpec, event: dict[str, Any], execution: ExecutionContext
) -> InvocationResult:
    if session.code is None:
        return InvocationResult(ok=False, error=ErrorInfo("NoCode", "no code has loaded yet"))
    invocation = Invocation(
        code=session.code,
        trigger=spec,
        event=event,
        providers=session.providers,
        execution=execution,
    )
    return session.runner.invoke(invocation)


def handle_dev_event(session: DevSession, message: dict[str, Any]) -> DevEvent | None:
    """Run one realtime message on the current code and reply. ``None`` for messages that
    are not events; ``InvalidInput`` for a malformed event."""
    if not isinstance(message, dict) or message.get("type") != "event":
        return None
    try:
        spec = spec_from_dict(message["trigger"])
        event_id, token = str(message["event_id"]), str(message.get("token") or "")
        reply_to, event = message.get("reply_to"), dict(message["event"])
        if reply_to is not None and not isinstance(reply_to, str):
            raise TypeError("reply_to must be a string or null")
        answerer = message.get("answerer")
        if answerer is not None and not isinstance(answerer, str):
            raise TypeError("answerer must be a string or null")
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"malformed dev event: {exc}") from exc
    context = ExecutionContext(
        id=event_id,
        token=token,
        api_url=session.api_url,
        deadline_ms=session.deadline_ms,
        workflow_id=session.workflow.id,
    )
    if reply_to is None:
        # The active deployment ran it and answered: running it here too would repeat its side
        # effects (a second message, a second charge).
        return DevEvent(spec, InvocationResult(ok=True), observed=True)
    if answerer is not None and answerer != session.session_id:
        # Another dev session answers this event; running it here too would repeat its effects.
        return DevEvent(spec, InvocationResult(ok=True), observed=True, elsewhere=True)
    try:
        result = _invoke(session, spec, event, context)
    except FlowwError as exc:  # the runner itself failed (timeout, crash): still answer
        result = InvocationResult(ok=False, error=ErrorInfo(type(exc).__name__, str(exc)))
    try:
        session.platform.reply(session.workflow.id, reply_to, token, result)
    except NotFound:
        return DevEvent(spec, result, "nobody waits for this answer any more")
    except FlowwError as exc:
        return DevEvent(spec, result, str(exc))
    return DevEvent(spec, result)


def cron_left_to_deployment(session: DevSession) -> bool:
    """Whether the workflow's active deployment runs its cron: a local tick then would run the
    schedule a second time (a second message, a second write to the namespace's KV), so
    ``floww dev`` only says it left the tick to the deployment."""
    return session.platform.has_active_deployment(session.workflow.id)


def handle_local_event(
    session: DevSession, spec: TriggerSpec, event: dict[str, Any]
) -> InvocationResult:
    """Run an event that arose on this machine (the local webhook server, local cron)."""
    session.local_runs += 1
    context = ExecutionContext(
        id=f"local-{session.local_runs}",
        token=session.local_token,
        api_url=session.api_url,
        deadline_ms=session.deadline_ms,
        workflow_id=session.workflow.id,
    )
    return _invoke(session, spec, event, context)


def renew_dev(session: DevSession) -> bool:
    """Renew the session's lease on the server. When the server had dropped the session (its
    lease lapsed while this machine slept or was cut off), register it again from the last
    good code; returns whether it had to."""
    try:
        session.platform.renew_dev_session(session.workflow.id, session.session_id)
    except NotFound:
        triggers = session.definitions.triggers if session.definitions is not None else ()
        session.webhook_urls = session.platform.sync_dev_triggers(
            session.workflow.id, triggers, session_id=session.session_id
        )
        return True
    return False


def stop_dev(session: DevSession) -> None:
    """End the session on the server: its lease goes, and with it its dev triggers unless
    another session of the workflow is live (whose triggers then stay routed)."""
    session.platform.clear_dev_triggers(session.workflow.id, session_id=session.session_id)
