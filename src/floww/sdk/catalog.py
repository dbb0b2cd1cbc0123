"""The provider types a floww server offers, and the fields setting one up asks for."""

from __future__ import annotations

from floww.domain.errors import NotFound
from floww.domain.model import ProviderField
from floww.sdk.builtin import Builtin
from floww.sdk.providers import (
    Discord,
    GitHub,
    GitLab,
    Jira,
    Linear,
    Provider,
    Secret,
    Slack,
    StandardWebhooks,
    Stripe,
    Todoist,
)

__all__ = ["fields_for", "provider_types"]

# The SDK face of each provider of ``floww.domain.providers``' catalogue.
_TYPES: tuple[type[Provider], ...] = (
    Builtin,
    Discord,
    GitHub,
    GitLab,
    Jira,
    Linear,
    Secret,
    Slack,
    StandardWebhooks,
    Stripe,
    Todoist,
)


def provider_types() -> dict[str, type[Provider]]:
    """Every known provider type by name, sorted by name."""
    return {cls.type: cls for cls in sorted(_TYPES, key=lambda cls: cls.type)}


def fields_for(provider_type: str) -> tuple[ProviderField, ...]:
    """The setup fields of ``provider_type``; ``NotFound`` for an unknown type.

    Empty for ``secret``: a ``Secret``'s fields are whatever its code declares (reported in
    ``Definitions.provider_fields``), so the server accepts any non-empty set of them.
    """
    try:
        cls = provider_types()[provider_type]
    except KeyError:
        raise NotFound("provider type", provider_type) from None
    return () if cls is Secret else cls.fields
