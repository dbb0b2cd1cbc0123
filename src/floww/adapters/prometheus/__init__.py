"""Platform metrics in the Prometheus text format, kept with ``prometheus_client``.

``PlatformMetrics`` owns one registry per server (never the library's global one, so two
servers in one process never mix their figures). Counters move at a few cheap points:

- ``CountingRepo`` wraps the workflow repository and counts an execution when it is written
  in a final status (``floww_executions_total`` by status and trigger type, and
  ``floww_execution_duration_seconds``);
- the HTTP edge reports each webhook answer's status (``floww_webhook_responses_total``).

Gauges are read when scraped, from callbacks the composition root passes: the dispatcher's
queue depth, busy lanes and threads, and the function host's worker processes.

Counters start at zero when the process starts, as Prometheus counters do; a scraper sees the
reset and ``rate()`` handles it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from floww.domain.errors import NotFound
from floww.domain.model import Execution
from floww.domain.providers import CATALOGUE
from floww.ports.workflow_repo import WorkflowRepo

__all__ = ["CONTENT_TYPE", "CountingRepo", "PlatformMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_TRIGGER_CACHE = 10_000
_KNOWN_KINDS = frozenset(
    f"{rules.type}.{trigger.name}" for rules in CATALOGUE.values() for trigger in rules.triggers
)


class _Gauges(Collector):
    """Gauges computed at scrape time from ``readers`` (name -> (help, reader)); a reader
    that fails leaves its gauge out of that scrape rather than failing the scrape."""

    def __init__(self, readers: Mapping[str, tuple[str, Callable[[], float]]]) -> None:
        self._readers = dict(readers)

    def collect(self) -> Iterator[Metric]:
        for name, (help_text, read) in self._readers.items():
            try:
                value = float(read())
            except Exception:
                continue
            yield GaugeMetricFamily(name, help_text, value=value)


class PlatformMetrics:
    """The server's metrics. ``gauges`` maps a metric name to its help text and a reader."""

    def __init__(self, gauges: Mapping[str, tuple[str, Callable[[], float]]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._executions = Counter(
            "floww_executions",
            "Executions that reached a final status, by status and trigger type",
            ["status", "trigger"],
            registry=self.registry,
        )
        self._durations = Histogram(
            "floww_execution_duration_seconds",
            "How long finished executions ran, by trigger type",
            ["trigger"],
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._webhooks = Counter(
            "floww_webhook_responses",
            "Answers given to webhook requests, by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self.registry.register(_Gauges(dict(gauges or {})))

    def execution_finished(self, status: str, trigger: str, duration_s: float | None) -> None:
        self._executions.labels(status=status, trigger=trigger).inc()
        if duration_s is not None:
            self._durations.labels(trigger=trigger).observe(duration_s)

    def webhook_answered(self, status: int) -> None:
        self._webhooks.labels(status=str(status)).inc()

    def render(self) -> bytes:
        """The exposition text of every metric now."""
        return generate_latest(self.registry)


class CountingRepo:
    """A ``WorkflowRepo`` that is ``inner`` in every respect, and also tells ``metrics`` when
    an execution is written in a final status. The trigger's type is looked up once per
    trigger (a bounded cache); a trigger gone since reads ``unknown``."""

    def __init__(self, inner: WorkflowRepo, metrics: PlatformMetrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self._kinds: dict[str, str] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        # Bound once: later lookups of the same method skip __getattr__.
        self.__dict__[name] = value
        return value

    def update_execution(self, execution: Execution) -> None:
        self._inner.update_execution(execution)
        if execution.status.is_final:
            duration = None if execution.duration_ms is None else execution.duration_ms / 1000
            self._metrics.execution_finished(
                execution.status.value, self._kind(execution.trigger_id), duration
            )

    def _kind(self, trigger_id: str) -> str:
        with self._lock:
            kind = self._kinds.get(trigger_id)
        if kind is not None:
            return kind
        try:
            spec = self._inner.get_trigger(trigger_id).spec
            kind = f"{spec.provider.type}.{spec.trigger_type}"
            # Labels come from the catalogue only: code of user-written providers could
            # otherwise mint a new time series with every deploy.
            if kind not in _KNOWN_KINDS:
                kind = "other"
        except NotFound:
            return "unknown"
        with self._lock:
            if len(self._kinds) >= _TRIGGER_CACHE:
                self._kinds.clear()
            self._kinds[trigger_id] = kind
        return kind
