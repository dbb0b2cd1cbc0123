"""The lease keeper of a server process.

Every ``renew_interval`` seconds it renews the lease of every unfinished execution this process
owns (one statement); at start and then every ``sweep_interval`` seconds it runs the recovery
sweep, which acts only on executions whose lease lapsed (their owner is gone). The renewal
runs on its own thread so that no amount of work in the process delays it. On a clean stop,
``release`` hands over at once instead of letting the leases run out.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from floww.domain.errors import FlowwError
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.executions import lease_until
from floww.domain.usecases.recovery import Recovered, recover_executions
from floww.entrypoints.background import Periodic

__all__ = ["LeaseKeeper"]

log = logging.getLogger("floww.leases")


class LeaseKeeper:
    """Defaults: renew three times per lease, sweep twice per lease."""

    def __init__(
        self,
        deps: ServerDeps,
        *,
        renew_interval: float | None = None,
        sweep_interval: float | None = None,
    ) -> None:
        ttl = deps.settings.lease_ttl_s
        self._deps = deps
        self._loops = (
            Periodic("floww-lease-renew", self.renew, renew_interval or ttl / 3),
            Periodic("floww-lease-sweep", self.sweep, sweep_interval or ttl / 2, at_start=True),
        )

    def renew(self) -> int:
        try:
            return self._deps.repo.renew_leases(self._deps.owner_id, lease_until(self._deps))
        except FlowwError as exc:
            log.warning("leases: cannot renew: %s", exc)
            return 0

    def sweep(self) -> Recovered | None:
        try:
            recovered = recover_executions(self._deps)
        except FlowwError as exc:
            log.warning("recovery: cannot sweep lapsed executions: %s", exc)
            return None
        if recovered:
            log.info(
                "recovery: %d interrupted, %d queued again, %d settled",
                len(recovered.interrupted),
                len(recovered.requeued),
                len(recovered.settled),
            )
        return recovered

    def release(self) -> Recovered | None:
        """On a clean stop, after the dispatcher closed: let every lease of this process lapse
        now and sweep once, so the executions it was running are INTERRUPTED at once and the
        ones still waiting are run by the next process as soon as it starts."""
        try:
            self._deps.repo.renew_leases(
                self._deps.owner_id, self._deps.clock.now() - timedelta(seconds=1)
            )
        except FlowwError as exc:
            log.warning("leases: cannot release: %s", exc)
            return None
        return self.sweep()

    def start(self) -> None:
        for loop in self._loops:
            loop.start()

    def stop(self) -> None:
        for loop in self._loops:
            loop.stop()
