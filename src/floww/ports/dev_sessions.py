"""DevSessions: the ``floww dev`` sessions connected to each workflow, each with a lease.

- ``put`` registers a session or, for one already registered, replaces its triggers and
  lease while keeping its ``connected_at``.
- ``renew`` moves a session's lease to ``expires_at``; ``NotFound`` when the session is not
  registered (it stopped, or its lease lapsed and it was dropped).
- ``remove`` forgets a session; removing an unknown one is harmless.
- ``live`` lists the workflow's sessions whose lease runs past ``now``, the most recently
  connected first (ties by session id); sessions whose lease has lapsed are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from floww.domain.model import TriggerSpec

__all__ = ["DevSessionLease", "DevSessions"]


@attrs.frozen
class DevSessionLease:
    workflow_id: str
    session_id: str
    specs: tuple[TriggerSpec, ...]
    connected_at: datetime
    expires_at: datetime


class DevSessions(Protocol):
    def put(self, lease: DevSessionLease) -> DevSessionLease:
        """Store the session; returns it as stored (with the first ``connected_at``)."""

    def renew(self, workflow_id: str, session_id: str, expires_at: datetime) -> None: ...

    def remove(self, workflow_id: str, session_id: str) -> None: ...

    def live(self, workflow_id: str, now: datetime) -> Sequence[DevSessionLease]: ...
