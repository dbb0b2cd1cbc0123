"""Providers: the services user code talks to, and the triggers they offer.

A provider is named by its type and an alias (``GitHub()`` is ``github:default``,
``Slack("ops")`` is ``slack:ops``). Constructing one records *provider usage*, so the platform
can check that the namespace has credentials for it; its credentials are read, at invocation
time, from the configs injected for that invocation (``provider.config``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from floww.domain.errors import InvalidInput, UserCodeError
from floww.domain.model import ProviderField, ProviderRef
from floww.sdk.config import config_for
from floww.sdk.declarations import (
    check_handler,
    check_name,
    declare_provider,
    declare_trigger,
    trigger_spec,
    user_location,
)

__all__ = ["GitHub", "Provider", "Secret", "Slack"]

H = TypeVar("H", bound=Callable[..., Any])


def _check_known(provider: Provider) -> None:
    """A provider must name its type, and the platform must know how to set it up: a type of
    the catalog, or one that declares its own credential fields. ``InvalidInput`` otherwise
    (reported against the line that made the provider)."""
    from floww.sdk.catalog import provider_types

    kind = type(provider).type
    if not kind:
        raise InvalidInput(f"provider class {type(provider).__name__} does not name its type")
    if kind not in provider_types() and not provider.setup_fields:
        known = ", ".join(sorted(t for t in provider_types() if t != "builtin"))
        raise InvalidInput(
            f"unknown provider type {kind!r}: floww knows {known}; give your provider class "
            "its credential `fields`, or keep the credentials in a Secret(...)"
        )


class Provider:
    """Base class of every provider type.

    Subclasses set ``type`` (the provider type name) and ``fields`` (what setting one up asks
    for), and declare triggers with ``self._trigger(trigger_type, input)``.
    """

    type: ClassVar[str] = ""
    fields: ClassVar[tuple[ProviderField, ...]] = ()

    def __init__(self, alias: str = "default") -> None:
        self.alias = check_name("provider alias", alias)
        _check_known(self)
        declare_provider(self.ref, self.setup_fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.alias!r})"

    @property
    def ref(self) -> ProviderRef:
        return ProviderRef(type(self).type, self.alias)

    @property
    def setup_fields(self) -> tuple[ProviderField, ...]:
        """The fields this provider's credentials consist of."""
        return type(self).fields

    @property
    def config(self) -> Mapping[str, str]:
        """The credentials injected for this provider in the current invocation.

        Raises ``ProviderNotConfigured`` outside an invocation or when the namespace has none.
        """
        return config_for(self.ref)

    def _trigger(self, trigger_type: str, input: dict[str, Any]) -> Callable[[H], H]:
        """A decorator that declares a trigger of this provider with ``input``.

        Call it from the decorator factory (so the recorded line is the user's decorator line).
        """
        location = user_location()
        try:
            spec = trigger_spec(self.ref, trigger_type, input)
        except InvalidInput as exc:
            raise UserCodeError(str(exc), filename=location[0], lineno=location[1]) from None

        def decorator(handler: H) -> H:
            check_handler(handler)
            declare_trigger(spec, handler, location)
            return handler

        return decorator


class Secret(Provider):
    """Generic credentials: a named set of secret values, set up once per namespace.

    ``Secret("openai", fields=("api_key",))`` asks for ``api_key`` when it is set up;
    ``secret["api_key"]`` reads it inside a handler.
    """

    type = "secret"
    fields = (ProviderField("value", label="Value", secret=True),)

    def __init__(self, name: str, fields: tuple[str, ...] | list[str] = ("value",)) -> None:
        if isinstance(fields, str) or not fields:
            raise InvalidInput("Secret fields must be a non-empty sequence of names")
        self._fields = tuple(
            ProviderField(check_name("secret field", f), label=f, secret=True) for f in fields
        )
        super().__init__(name)

    @property
    def name(self) -> str:
        return self.alias

    @property
    def setup_fields(self) -> tuple[ProviderField, ...]:
        return self._fields

    def __getitem__(self, field: str) -> str:
        try:
            return self.config[field]
        except KeyError:
            raise KeyError(f"secret {self.alias!r} has no field {field!r}") from None

    def get(self, field: str, default: str | None = None) -> str | None:
        return self.config.get(field, default)


class GitHub(Provider):
    type = "github"
    fields = (
        ProviderField("token", label="Personal access token", secret=True),
        ProviderField("webhook_secret", label="Webhook secret", secret=True),
    )

    def on_push(self, owner: str, repository: str, branch: str | None = None) -> Callable[[H], H]:
        """Run the handler on every push to ``owner/repository`` (only ``branch`` if given)."""
        input: dict[str, Any] = {
            "owner": check_name("owner", owner),
            "repository": check_name("repository", repository),
        }
        if branch is not None:
            input["branch"] = check_name("branch", branch)
        return self._trigger("push", input)


class Slack(Provider):
    type = "slack"
    fields = (
        ProviderField("bot_token", label="Bot token", secret=True),
        ProviderField("signing_secret", label="Signing secret", secret=True),
    )

    def on_message(self, channel: str | None = None) -> Callable[[H], H]:
        """Run the handler on every message the bot sees (only in ``channel`` if given)."""
        input: dict[str, Any] = {}
        if channel is not None:
            input["channel"] = check_name("channel", channel)
        return self._trigger("message", input)
