"""``DevLoop``: one ``floww dev`` run around the ``usecases.dev`` session.

It starts the session (fetch providers -> execute userspace -> prompt for missing providers
-> sync dev triggers), then routes events to the current code: the realtime subscription on
``workflow:<id>`` (each event answered through the platform), the local webhook server and
local cron. ``reload`` reruns from "execute userspace"; ``stop`` clears the dev triggers and
closes everything it opened.

Every part is injected (platform, runner and prompter inside the session, the subscription
factory, the clock, where lines go), so it runs without sockets in tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import attrs

from floww.domain.errors import DeadlineExceeded, FlowwError, ProviderNotConfigured
from floww.domain.model import ErrorInfo, InvocationResult, TriggerSpec
from floww.domain.usecases.dev import (
    DevSession,
    ReloadOutcome,
    cron_left_to_deployment,
    handle_dev_event,
    handle_local_event,
    reload_code,
    renew_dev,
    start_dev,
    stop_dev,
)
from floww.entrypoints.cli.devloop.local_cron import LocalCron
from floww.entrypoints.cli.devloop.output import (
    INDENT,
    DevOutput,
    listening_lines,
    reload_error_lines,
    trigger_label,
)
from floww.ports.realtime import Subscription
from floww.ports.support import Clock

__all__ = ["DevLoop", "SubscriptionFactory"]

SubscriptionFactory = Callable[[str], Subscription]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class DevLoop:
    def __init__(
        self,
        session: DevSession,
        output: DevOutput,
        *,
        clock: Clock,
        subscribe: SubscriptionFactory | None = None,
        workers: int = 8,
        renew_every: float = 10.0,
    ) -> None:
        self.session = session
        self.out = output
        self.clock = clock
        self._subscribe = subscribe or session.platform.subscribe
        self._workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="floww-dev-cron")
        self._reload_lock = threading.Lock()
        self._stopping = threading.Event()
        self._subscription: Subscription | None = None
        self._listeners: list[threading.Thread] = []
        self._ended = threading.Lock()  # held once the connection's end was reported
        self._renewer: threading.Thread | None = None
        self.renew_every = renew_every
        self.cron = LocalCron(self.triggers, self._fire_cron, clock)
        self.reloads = 0
        self.local_url: str | None = None

    # what the current code declares -----------------------------------------------------------

    def triggers(self) -> Sequence[TriggerSpec]:
        """The dev triggers of the last good code (none before the first good load)."""
        definitions = self.session.definitions
        return definitions.triggers if definitions is not None else ()

    # start and reload -------------------------------------------------------------------------

    def start(self) -> ReloadOutcome:
        """Run the session from "fetch providers" and report it. A first load that fails is
        reported, not raised: the loop waits for the fix like any later reload."""
        started = time.perf_counter()
        with self._reload_lock:
            outcome = start_dev(self.session)
        self._report(outcome, started, first=True)
        return outcome

    def reload(self, changed: Sequence[str] = ()) -> ReloadOutcome | None:
        """Rerun from "execute userspace" (``None`` once stopping). The last good code keeps
        serving when the new code fails; domain errors (the server unreachable, colliding
        webhooks) are printed, not raised."""
        if self._stopping.is_set():
            return None
        what = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        self.out.line(f"↻ {what or 'project'} changed: reloading")
        started = time.perf_counter()
        before = {spec.identity for spec in self.triggers()}
        with self._reload_lock:
            try:
                outcome = reload_code(self.session)
            except FlowwError as exc:
                lines = [f"✗ reload failed: {exc}", f"{INDENT}still serving the last good code"]
                if isinstance(exc, ProviderNotConfigured):
                    lines += [
                        f"{INDENT}set it up: floww providers setup {t}:{a} --set FIELD=VALUE"
                        for t, a in exc.missing
                    ] + [f"{INDENT}then save a file to reload"]
                self.out.lines(lines)
                return None
            except (OSError, UnicodeError) as exc:
                self.out.lines([f"✗ could not read the project: {exc}"])
                return None
        self.reloads += 1
        self._report(outcome, started, first=False)
        if outcome.ok and before != {spec.identity for spec in self.triggers()}:
            self.out.lines(
                listening_lines(
                    self.session.webhook_urls, self.triggers(), self.local_url, self.clock.now()
                )
            )
        return outcome

    def _report(self, outcome: ReloadOutcome, started: float, *, first: bool) -> None:
        lines: list[str] = []
        for key in outcome.providers_set_up:
            lines.append(f"✓ provider {key} set up; started again from fetching providers")
        if outcome.ok and outcome.definitions is not None:
            count = len(outcome.definitions.triggers)
            verb = "loaded" if first else "reloaded"
            lines.append(f"✓ {verb} in {_ms(started):.0f} ms: {count} trigger{'s' * (count != 1)}")
        elif outcome.error is not None:
            lines += [
                "✗ " + line if i == 0 else line
                for i, line in enumerate(reload_error_lines(outcome.error))
            ]
            lines.append(
                f"{INDENT}still serving the last good code"
                if self.session.code is not None
                else f"{INDENT}nothing is served yet: fix the error and save"
            )
        self.out.lines(lines)

    # events from the server -------------------------------------------------------------------

    def listen(self) -> None:
        """Subscribe to ``workflow:<id>`` and run each event on one of ``workers`` threads, and
        keep the session's lease renewed. ``Unavailable``, ``Unauthenticated`` or
        ``PermissionDenied`` when the subscription cannot be made."""
        self._subscription = self._subscribe(self.session.workflow.id)
        self._listeners = [
            threading.Thread(target=self._listen, name=f"floww-dev-event-{i}", daemon=True)
            for i in range(self._workers)
        ]
        for listener in self._listeners:
            listener.start()
        self._renewer = threading.Thread(target=self._renew, name="floww-dev-lease", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stopping.wait(self.renew_every):
            with self._reload_lock:
                if self._stopping.is_set():
                    return
                try:
                    registered_again = renew_dev(self.session)
                except FlowwError as exc:
                    self.out.line(f"! could not renew the dev session's lease: {exc}")
                    continue
            if registered_again:
                self.out.line("↻ the server had dropped this dev session; registered it again")

    def _listen(self) -> None:
        """Each worker takes the next message itself: it goes from the connection's thread
        straight to the one that runs it, with no hand-over between."""
        subscription = self._subscription
        assert subscription is not None
        while not self._stopping.is_set():
            message = subscription.get(timeout=0.25)
            if message is not None:
                try:
                    self.run_remote(message)
                except Exception as exc:  # a worker outlives any one event
                    self.out.line(f"✗ event not run: {exc!r}")
                continue
            failure = getattr(subscription, "failure", None)
            if failure is not None:
                if self._ended.acquire(blocking=False):
                    self.out.line(f"✗ the realtime connection ended: {failure}")
                return

    def run_remote(self, message: dict[str, Any]) -> None:
        """Run one realtime message and reply; the outcome is printed, never raised."""
        at = self.clock.now()
        started = time.perf_counter()
        try:
            done = handle_dev_event(self.session, message)
        except FlowwError as exc:
            self.out.line(f"{at.astimezone():%H:%M:%S}  ✗ event not run: {exc}")
            return
        if done is None:
            return
        result = done.result
        if not result.duration_ms:
            result = _with_duration(result, _ms(started))
        event = message.get("event")
        method = event.get("method") if isinstance(event, dict) else None
        if done.observed:
            clock = at.astimezone().strftime("%H:%M:%S")
            label = trigger_label(done.trigger, method)
            where = (
                "another dev session answers it"
                if done.elsewhere
                else ("ran on the active deployment")
            )
            self.out.line(f"{clock}  {label}  {where} (not run here)")
            return
        note = f"reply not delivered: {done.reply_error}" if done.reply_error else None
        self.out.event(at, done.trigger, result, method=method, note=note)

    # events on this machine -------------------------------------------------------------------

    def run_local(self, spec: TriggerSpec, event: dict[str, Any]) -> InvocationResult:
        """Run an event of the local webhook server or local cron, print it and return the
        result (a deadline or runtime failure becomes a failed result)."""
        at = self.clock.now()
        started = time.perf_counter()
        try:
            result = handle_local_event(self.session, spec, event)
        except DeadlineExceeded as exc:
            result = InvocationResult(ok=False, error=ErrorInfo("DeadlineExceeded", str(exc)))
        except FlowwError as exc:
            result = InvocationResult(ok=False, error=ErrorInfo(type(exc).__name__, str(exc)))
        if not result.duration_ms:
            result = _with_duration(result, _ms(started))
        self.out.event(at, spec, result, method=event.get("method"), source="local")
        return result

    def _fire_cron(self, spec: TriggerSpec, scheduled: datetime) -> None:
        event = {
            "scheduled_time": scheduled.isoformat(),
            "expression": spec.input.get("expression"),
        }
        self._pool.submit(self._run_cron_tick, spec, event)

    def _run_cron_tick(self, spec: TriggerSpec, event: dict[str, Any]) -> None:
        try:
            deployed = cron_left_to_deployment(self.session)
        except FlowwError as exc:
            self.out.line(f"cron {spec.input.get('expression')}: cannot ask the server ({exc})")
            return
        if deployed:
            self.out.line(
                f"cron {spec.input.get('expression')} at {event['scheduled_time']}: "
                "left to the active deployment (it runs this schedule)"
            )
            return
        self.run_local(spec, event)

    # stop -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop listening, clear the dev triggers on the server, let running events finish."""
        self._stopping.set()
        self.cron.stop()
        for listener in self._listeners:
            listener.join(2 / len(self._listeners))
        if self._renewer is not None:
            self._renewer.join(2)
        if self._subscription is not None:
            self._subscription.close()
        try:
            stop_dev(self.session)
        except FlowwError as exc:
            self.out.line(f"! could not clear the dev triggers on the server: {exc}")
        self._pool.shutdown(wait=True, cancel_futures=True)
        for listener in self._listeners:
            listener.join()


def _with_duration(result: InvocationResult, duration_ms: float) -> InvocationResult:
    return attrs.evolve(result, duration_ms=duration_ms)
