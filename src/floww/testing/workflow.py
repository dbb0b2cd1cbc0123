"""A workflow under test: load a user's module and fire its triggers in memory.

Everything goes through the runtime contract every host uses (``floww.sdk.runtime``): the code
travels as a bundle, is loaded by the same collector, and each trigger is invoked with a wire
event built by the same functions as on the server (``webhook_event``, ``verify_delivery``).
What differs from production is only where side effects land: ``ctx.kv`` is an in-memory store
(``WorkflowUnderTest.kv``) and provider actions are recorded by ``FakeProviders``
(``WorkflowUnderTest.providers``) instead of reaching GitHub or Slack.

    workflow = load_workflow("main.py", providers={"slack:ops": {"bot_token": "xoxb-test"}})
    run = workflow.webhook("/hello/ada", json={})
    assert run.result == {"message": "hi ada"}
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from floww.domain.errors import InvalidInput, NotFound
from floww.domain.model import (
    CodeBundle,
    Definitions,
    ErrorInfo,
    ExecutionContext,
    Invocation,
    LogLine,
    ProviderField,
    ProviderRef,
    TriggerSpec,
)
from floww.domain.paths import PathTemplate
from floww.domain.usecases.webhooks import webhook_event
from floww.domain.verification import sign_github, sign_slack, verify_delivery
from floww.sdk import wire
from floww.sdk.bundle import bundle_from_directory
from floww.sdk.catalog import fields_for
from floww.sdk.http import provider_transport
from floww.sdk.kv import InMemoryKvBackend
from floww.sdk.runtime import Runtime
from floww.testing.providers import FakeProviders, fake_config

__all__ = ["NoMatchingTrigger", "Run", "WorkflowUnderTest", "load_workflow"]

_UNSET: Any = object()
PLATFORM_URL = "https://platform.floww.invalid"


class NoMatchingTrigger(LookupError):
    """The workflow declares no trigger that the fired event reaches."""


@attrs.frozen
class Run:
    """The outcome of one trigger's handler: its ``result`` (what the handler returned, in its
    wire form), the ``logs`` it wrote (``ctx.log`` and ``print``), and on failure ``error``
    (the exception's type, message and traceback)."""

    trigger: TriggerSpec
    ok: bool
    result: Any
    logs: tuple[LogLine, ...]
    error: ErrorInfo | None
    duration_ms: float

    @property
    def messages(self) -> list[str]:
        """The log messages, in order."""
        return [line.message for line in self.logs]


class WorkflowUnderTest:
    """A loaded workflow whose triggers a test fires. Build it with ``load_workflow`` (or the
    ``floww_workflow`` pytest fixture).

    ``providers`` maps ``type:alias`` to the configs the test gives; every provider the module
    uses gets a placeholder config otherwise, and all of them point at the fakes.
    """

    def __init__(
        self,
        code: CodeBundle,
        *,
        providers: Mapping[str, Mapping[str, str]] | None = None,
        kv: Mapping[str, Any] | None = None,
        cache_root: Path | None = None,
        workflow_id: str = "wf_test",
        deadline_ms: int = 30_000,
    ) -> None:
        self.code = code
        self.workflow_id = workflow_id
        self.deadline_ms = deadline_ms
        self.providers = FakeProviders()
        self.kv = InMemoryKvBackend(dict(kv or {}))
        self._runtime = Runtime(cache_root=cache_root)
        given = {key: dict(config) for key, config in (providers or {}).items()}
        answer = self._runtime.handle(wire.definitions_request(code, given))
        self.definitions: Definitions = wire.definitions_from_wire(answer)
        self.configs = self._configs(given)
        self._executions = itertools.count(1)

    @property
    def triggers(self) -> tuple[TriggerSpec, ...]:
        return self.definitions.triggers

    def _configs(self, given: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        configs: dict[str, dict[str, str]] = {}
        refs = {ref.key: ref for ref in self.definitions.providers}
        refs.update({key: _ref(key) for key in given})
        for key, ref in refs.items():
            fields = self.definitions.provider_fields.get(key) or _catalog_fields(ref.type)
            placeholder = fake_config(ref, fields)
            configs[key] = {**placeholder, **given.get(key, {}), "api_url": placeholder["api_url"]}
        return configs

    # firing -----------------------------------------------------------------------------------

    def invoke(self, trigger: TriggerSpec, event: Mapping[str, Any]) -> Run:
        """Run ``trigger``'s handler with a wire ``event``: what every ``fire`` method ends in."""
        context = ExecutionContext(
            id=f"ex_test{next(self._executions):04d}",
            token="test-execution-token",
            api_url=PLATFORM_URL,
            deadline_ms=self.deadline_ms,
            workflow_id=self.workflow_id,
        )
        invocation = Invocation(self.code, trigger, dict(event), self.configs, context)
        with provider_transport(self.providers.transport):
            answer = self._runtime.handle(wire.invocation_to_wire(invocation), kv_backend=self.kv)
        result = wire.result_from_wire(answer)
        return Run(trigger, result.ok, result.result, result.logs, result.error, result.duration_ms)

    def webhook(
        self,
        path: str,
        *,
        method: str = "POST",
        json: Any = _UNSET,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Run:
        """Send an HTTP request to the builtin webhook ``method path`` reaches (a static path
        beats a templated one, as on the server). ``json`` sends a JSON body; ``body`` sends
        raw bytes or text with the ``headers`` given. ``NoMatchingTrigger`` when none matches."""
        sent = {k.lower(): v for k, v in (headers or {}).items()}
        if json is not _UNSET:
            raw = _json_bytes(json)
            sent.setdefault("content-type", "application/json")
        else:
            raw = body.encode() if isinstance(body, str) else (body or b"")
        trigger, params = self._webhook_trigger(method.upper(), path)
        event = webhook_event(method.upper(), path, sent, dict(query or {}), raw, params)
        return self.invoke(trigger, event)

    def cron(self, expression: str | None = None, *, at: datetime | None = None) -> Run:
        """Fire the cron trigger with ``expression`` (optional when there is one) as if it were
        due at ``at`` (default: the current minute, UTC)."""
        crons = [t for t in self._builtin("cron") if expression in (None, t.input["expression"])]
        trigger = self._one(crons, f"cron trigger {expression or ''}".strip())
        moment = (at or datetime.now(UTC).replace(second=0, microsecond=0)).astimezone(UTC)
        event = {"scheduled_time": moment.isoformat(), "expression": trigger.input["expression"]}
        return self.invoke(trigger, event)

    def manual(
        self, name: str | None = None, input: Any = None, *, triggered_by: str = "test"
    ) -> Run:
        """Run the manual trigger called ``name`` (optional when there is one) with ``input``."""
        manuals = [t for t in self._builtin("manual") if name in (None, t.input["name"])]
        trigger = self._one(manuals, f"manual trigger {name or ''}".strip())
        return self.invoke(trigger, {"input": input, "triggered_by": triggered_by})

    def github_push(
        self,
        owner: str,
        repository: str,
        *,
        branch: str = "main",
        pusher: str = "octocat",
        commits: Sequence[Mapping[str, Any]] = (),
        payload: Mapping[str, Any] | None = None,
        alias: str = "default",
    ) -> list[Run]:
        """Deliver a GitHub ``push`` to ``owner/repository`` (``payload`` replaces the one built
        from the other arguments), signed with the provider's ``webhook_secret`` and checked by
        the server's own verification (which skips a trigger bound to another branch). Returns
        the runs of the triggers it reached, in declaration order (empty: none did)."""
        document = (
            dict(payload)
            if payload is not None
            else _push_payload(owner, repository, branch, pusher, commits)
        )
        body = _json_bytes(document)
        runs = []
        for trigger in self._provider_triggers("github", alias, "push"):
            if (trigger.input.get("owner"), trigger.input.get("repository")) != (owner, repository):
                continue
            config = self.configs[trigger.provider.key]
            headers = {
                "content-type": "application/json",
                "x-github-event": "push",
                "x-github-delivery": str(uuid.uuid4()),
                "x-hub-signature-256": sign_github(config.get("webhook_secret", ""), body),
            }
            delivery = verify_delivery(trigger, config, headers, body, datetime.now(UTC))
            if delivery.ignored is None and delivery.reply is None:
                runs.append(self.invoke(trigger, delivery.event))
        return runs

    def slack_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0TESTUSER",
        payload: Mapping[str, Any] | None = None,
        alias: str = "default",
    ) -> list[Run]:
        """Deliver a Slack ``message`` event in ``channel`` (an Events API envelope; ``payload``
        replaces it), signed with the provider's ``signing_secret`` and checked by the server's
        own verification (which skips a trigger bound to another channel). Returns the runs of
        the triggers it reached, in declaration order."""
        now = datetime.now(UTC)
        document = dict(payload) if payload is not None else _slack_payload(channel, text, user)
        body = _json_bytes(document)
        timestamp = str(int(now.timestamp()))
        runs = []
        for trigger in self._provider_triggers("slack", alias, "message"):
            config = self.configs[trigger.provider.key]
            headers = {
                "content-type": "application/json",
                "x-slack-request-timestamp": timestamp,
                "x-slack-signature": sign_slack(config.get("signing_secret", ""), timestamp, body),
            }
            delivery = verify_delivery(trigger, config, headers, body, now)
            if delivery.ignored is None and delivery.reply is None:
                runs.append(self.invoke(trigger, delivery.event))
        return runs

    # finding triggers -------------------------------------------------------------------------

    def _builtin(self, trigger_type: str) -> list[TriggerSpec]:
        return self._provider_triggers("builtin", "default", trigger_type)

    def _provider_triggers(self, kind: str, alias: str, trigger_type: str) -> list[TriggerSpec]:
        ref = ProviderRef(kind, alias)
        return [t for t in self.triggers if t.provider == ref and t.trigger_type == trigger_type]

    def _one(self, candidates: list[TriggerSpec], what: str) -> TriggerSpec:
        if len(candidates) != 1:
            found = "none" if not candidates else f"{len(candidates)}: name the one to fire"
            raise NoMatchingTrigger(f"{what} in {self.code.entrypoint}: {found}")
        return candidates[0]

    def _webhook_trigger(self, method: str, path: str) -> tuple[TriggerSpec, dict[str, str]]:
        best: tuple[tuple[int, ...], TriggerSpec, dict[str, str]] | None = None
        for trigger in self._builtin("webhook"):
            if method not in [str(m).upper() for m in trigger.input.get("methods") or ["POST"]]:
                continue
            template = PathTemplate.parse(str(trigger.input.get("path", "/")))
            params = template.match(path)
            if params is None:
                continue
            # A literal segment beats a parameter, leftmost first: the server's rule.
            rank = tuple(1 if s.startswith("{") else 0 for s in template.segments)
            if best is None or rank < best[0]:
                best = (rank, trigger, params)
        if best is None:
            declared = ", ".join(
                f"{'/'.join(t.input.get('methods') or ['POST'])} {t.input.get('path')}"
                for t in self._builtin("webhook")
            )
            raise NoMatchingTrigger(
                f"no webhook of {self.code.entrypoint} answers {method} {path}"
                f" (declared: {declared or 'none'})"
            )
        return best[1], best[2]


def load_workflow(
    target: str | Path,
    *,
    providers: Mapping[str, Mapping[str, str]] | None = None,
    kv: Mapping[str, Any] | None = None,
    cache_root: Path | None = None,
    base: Path | None = None,
) -> WorkflowUnderTest:
    """Load a workflow module: a path to its ``.py`` file (relative ones from ``base``, else
    the working directory; the project is that file's directory) or an importable module name
    such as ``flows.main`` (the project is the directory its top package sits in).

    ``UserCodeError`` (with file and line) when the module fails to load, as ``floww deploy``
    would report it. ``providers`` and ``kv`` seed the configs and the key-value store.
    """
    root, entrypoint = _locate(target, base)
    code = bundle_from_directory(root, entrypoint)
    return WorkflowUnderTest(code, providers=providers, kv=kv, cache_root=cache_root)


def _locate(target: str | Path, base: Path | None) -> tuple[Path, str]:
    if isinstance(target, Path) or str(target).endswith(".py") or "/" in str(target):
        path = Path(target)
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        path = path.resolve()
        if not path.is_file():
            raise InvalidInput(f"no workflow module at {path}")
        return path.parent, path.name
    spec = importlib.util.find_spec(str(target))
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise InvalidInput(f"no workflow module named {target!r}")
    origin = Path(spec.origin).resolve()
    if origin.name == "__init__.py":
        raise InvalidInput(f"{target!r} is a package: name the module that declares the triggers")
    parts = str(target).split(".")
    root = origin.parents[len(parts) - 1]
    return root, origin.relative_to(root).as_posix()


def _ref(key: str) -> ProviderRef:
    kind, sep, alias = key.partition(":")
    if not sep or not kind or not alias:
        raise InvalidInput(f"provider configs are keyed 'type:alias', not {key!r}")
    return ProviderRef(kind, alias)


def _catalog_fields(provider_type: str) -> tuple[ProviderField, ...]:
    try:
        return fields_for(provider_type)
    except NotFound:  # a custom provider type: its config is whatever the test gives
        return ()


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, allow_nan=False).encode()


def _push_payload(
    owner: str, repository: str, branch: str, pusher: str, commits: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A ``push`` payload with the fields GitHub documents and handlers commonly read."""
    listed = [dict(c) for c in commits]
    return {
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": (listed[-1].get("id") if listed else None) or "1" * 40,
        "repository": {
            "name": repository,
            "full_name": f"{owner}/{repository}",
            "owner": {"login": owner, "name": owner},
        },
        "pusher": {"name": pusher, "email": f"{pusher}@users.noreply.github.com"},
        "sender": {"login": pusher},
        "commits": listed,
        "head_commit": listed[-1] if listed else None,
    }


def _slack_payload(channel: str, text: str, user: str) -> dict[str, Any]:
    """An Events API ``event_callback`` envelope around a ``message`` event."""
    ts = f"{time.time():.6f}"
    return {
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event": {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts},
    }
