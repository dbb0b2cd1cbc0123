"""Provider credentials in a namespace: set up, list (redacted), remove, and the check that
every provider a piece of code uses is configured."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from floww.domain.errors import InvalidInput
from floww.domain.model import Principal, Provider, ProviderField, ProviderRef
from floww.domain.usecases.access import Action, require_namespace
from floww.domain.usecases.deps import ServerDeps

__all__ = [
    "REDACTED",
    "missing_providers",
    "redact",
    "remove_provider",
    "setup_provider",
    "validate_config",
]

REDACTED = "********"


def missing_providers(used: Iterable[ProviderRef], configured: Iterable[str]) -> list[ProviderRef]:
    """The used providers whose ``type:alias`` is not among ``configured``, sorted."""
    have = set(configured)
    return sorted({ref for ref in used if ref.key not in have})


def validate_config(
    fields: Sequence[ProviderField], config: Mapping[str, str], provider: str
) -> dict[str, str]:
    """``InvalidInput`` naming every missing required field and every unknown one. With no
    ``fields`` (a ``secret``, whose fields its code declares) any non-empty set of fields is
    accepted."""
    if not isinstance(config, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in config.items()
    ):
        raise InvalidInput(f"config of {provider} must map field names to strings")
    if not fields:
        if not config or not all(config.values()):
            raise InvalidInput(f"{provider} needs at least one field, and no empty values")
        return dict(config)
    known = {f.name for f in fields}
    unknown = sorted(set(config) - known)
    missing = sorted(f.name for f in fields if f.required and not config.get(f.name))
    if unknown:
        raise InvalidInput(
            f"{provider} has no field(s) {', '.join(unknown)}; it takes {', '.join(sorted(known))}"
        )
    if missing:
        raise InvalidInput(f"{provider} needs field(s) {', '.join(missing)}")
    return {k: v for k, v in config.items()}


def setup_provider(
    deps: ServerDeps,
    principal: Principal,
    *,
    namespace_id: str,
    ref: ProviderRef,
    fields: Sequence[ProviderField],
    config: Mapping[str, str],
) -> Provider:
    require_namespace(deps.repo, principal, namespace_id, Action.MANAGE)
    clean = validate_config(fields, config, ref.key)
    existing = deps.repo.find_provider(namespace_id, ref)
    provider = Provider(
        id=existing.id if existing else deps.ids.new_id("prv"),
        namespace_id=namespace_id,
        type=ref.type,
        alias=ref.alias,
        config=clean,
    )
    return deps.repo.put_provider(provider)


def remove_provider(
    deps: ServerDeps, principal: Principal, *, namespace_id: str, ref: ProviderRef
) -> None:
    require_namespace(deps.repo, principal, namespace_id, Action.MANAGE)
    deps.repo.delete_provider(namespace_id, ref)


def redact(provider: Provider, fields: Sequence[ProviderField]) -> dict[str, str]:
    """The config with every secret field (and every field the type does not declare)
    replaced, for list responses."""
    public = {f.name for f in fields if not f.secret}  # no declared fields: all secret
    return {k: (v if k in public else REDACTED) for k, v in provider.config.items()}
