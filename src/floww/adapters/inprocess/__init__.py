"""Adapters that need nothing outside the process and serve in production: the system clock,
random ids, the reply rendezvous of a single-process server, the counters of rate limits, and
the runner that executes a
developer's code in the CLI's own process."""

from floww.adapters.inprocess.clock import SystemClock
from floww.adapters.inprocess.ids import RandomIds
from floww.adapters.inprocess.limit_store import ProcessLimitStore
from floww.adapters.inprocess.replies import ProcessReplies
from floww.adapters.inprocess.userspace import InProcessRunner

__all__ = ["InProcessRunner", "ProcessLimitStore", "ProcessReplies", "RandomIds", "SystemClock"]
