"""``Context``: the first argument of every handler."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from floww.sdk.kv import InMemoryKvBackend, KvBackend, KvStore
from floww.sdk.logs import ExecutionLog

__all__ = ["Context", "secrets_from_configs"]


@attrs.frozen
class Context:
    """What a handler may use besides its event.

    - ``log``: structured, captured log lines (``ctx.log.info("...", key=value)``)
    - ``kv``: the namespace's key-value store
    - ``secrets``: read-only ``{name: {field: value}}`` of the ``Secret`` providers injected
    - ``execution_id`` and ``workflow_id`` of this run
    """

    log: ExecutionLog
    kv: KvStore
    secrets: Mapping[str, Mapping[str, str]]
    execution_id: str
    workflow_id: str

    @classmethod
    def local(
        cls,
        *,
        kv_backend: KvBackend | None = None,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
        execution_id: str = "local",
        workflow_id: str = "local",
    ) -> Context:
        """A context for running a handler directly, as in a user's own tests."""
        frozen = {name: MappingProxyType(dict(cfg)) for name, cfg in (secrets or {}).items()}
        return cls(
            log=ExecutionLog(),
            kv=KvStore(kv_backend or InMemoryKvBackend()),
            secrets=MappingProxyType(frozen),
            execution_id=execution_id,
            workflow_id=workflow_id,
        )


def secrets_from_configs(
    configs: Mapping[str, Mapping[str, str]],
) -> Mapping[str, Mapping[str, str]]:
    """``{alias: config}`` of the ``secret:<alias>`` entries of ``configs`` (keyed type:alias)."""
    secrets = {
        key.partition(":")[2]: MappingProxyType(dict(config))
        for key, config in configs.items()
        if key.partition(":")[0] == "secret" and key.partition(":")[2]
    }
    return MappingProxyType(secrets)
