"""Provider configs injected for the current invocation.

Held in a ``ContextVar``, never a process global: two invocations running at once (threads,
tasks) each see their own credentials, and nothing is visible outside an invocation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

from floww.domain.errors import ProviderNotConfigured
from floww.domain.model import ProviderRef

__all__ = ["config_for", "configured_refs", "provider_configs"]

Configs = Mapping[str, Mapping[str, str]]

_injected: ContextVar[Configs | None] = ContextVar("floww_provider_configs", default=None)


@contextmanager
def provider_configs(configs: Mapping[str, Mapping[str, str]]) -> Iterator[None]:
    """Make ``configs`` (keyed ``type:alias``) the provider configs of the enclosed code."""
    frozen = MappingProxyType(
        {key: MappingProxyType(dict(value)) for key, value in configs.items()}
    )
    token = _injected.set(frozen)
    try:
        yield
    finally:
        _injected.reset(token)


def config_for(ref: ProviderRef) -> Mapping[str, str]:
    """The config injected for ``ref``; ``ProviderNotConfigured`` when there is none."""
    configs = _injected.get()
    if configs is None or ref.key not in configs:
        raise ProviderNotConfigured([(ref.type, ref.alias)])
    return configs[ref.key]


def configured_refs() -> tuple[ProviderRef, ...]:
    """Every provider with a config injected for the current invocation."""
    configs = _injected.get() or {}
    return tuple(sorted(ProviderRef.parse(key) for key in configs))
