"""Dev session leases in a dict guarded by a lock."""

from __future__ import annotations

import threading
from datetime import datetime

import attrs

from floww.domain.errors import NotFound
from floww.ports.dev_sessions import DevSessionLease, DevSessions

__all__ = ["InMemoryDevSessions"]


class InMemoryDevSessions(DevSessions):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str], DevSessionLease] = {}

    def put(self, lease: DevSessionLease) -> DevSessionLease:
        key = (lease.workflow_id, lease.session_id)
        with self._lock:
            known = self._sessions.get(key)
            if known is not None:
                lease = attrs.evolve(lease, connected_at=known.connected_at)
            self._sessions[key] = lease
            return lease

    def renew(self, workflow_id: str, session_id: str, expires_at: datetime) -> None:
        key = (workflow_id, session_id)
        with self._lock:
            known = self._sessions.get(key)
            if known is None:
                raise NotFound("dev session", session_id)
            self._sessions[key] = attrs.evolve(known, expires_at=expires_at)

    def remove(self, workflow_id: str, session_id: str) -> None:
        with self._lock:
            self._sessions.pop((workflow_id, session_id), None)

    def live(self, workflow_id: str, now: datetime) -> list[DevSessionLease]:
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
                del self._sessions[key]
            found = [s for s in self._sessions.values() if s.workflow_id == workflow_id]
        found.sort(key=lambda s: s.session_id, reverse=True)
        found.sort(key=lambda s: s.connected_at, reverse=True)
        return found
