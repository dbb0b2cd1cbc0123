"""Providers: the services user code talks to, and the triggers they offer.

A provider is named by its type and an alias (``GitHub()`` is ``github:default``,
``Slack("ops")`` is ``slack:ops``). Constructing one records *provider usage*, so the platform
can check that the namespace has credentials for it; its credentials are read, at invocation
time, from the configs injected for that invocation (``provider.config``).

Providers with a web API offer async actions on it, made with those credentials::

    await slack.send_message(channel="#deploys", text="shipped")
    await github.create_issue("acme", "api", title="flaky test")

They run on a worker thread (the handler's loop keeps going) with a timeout, and fail with
domain errors (``floww.sdk.http``). An optional ``api_url`` in the config points them at another
server (GitHub Enterprise, or a stand-in in tests).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from floww.domain.errors import InvalidInput, Unavailable, UserCodeError
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
from floww.sdk.http import JsonClient, Transport
from floww.sdk.retry import Retry, with_retry

__all__ = ["ApiProvider", "Provider", "Secret", "json_object", "segment", "text"]

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
    for), and declare triggers with ``self._trigger(trigger_type, input, retry)``. Every
    trigger decorator of a provider takes ``retry=floww.Retry(...)``: the policy for runs of
    it that fail (see ``floww.sdk.retry``)."""

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

    def _trigger(
        self, trigger_type: str, input: dict[str, Any], retry: Retry | None = None
    ) -> Callable[[H], H]:
        """A decorator that declares a trigger of this provider with ``input`` (and the retry
        policy of its failed runs, if any).

        Call it from the decorator factory (so the recorded line is the user's decorator line).
        """
        location = user_location()
        try:
            spec = trigger_spec(self.ref, trigger_type, with_retry(input, retry))
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


class ApiProvider(Provider):
    """A provider with a JSON web API, reached with a token from the injected config.

    The API lives at ``api_url`` (the config's optional field of that name, else the public
    default): a GitHub Enterprise server, or a local stand-in in tests. ``transport`` replaces
    the HTTP transport (tests, or a proxy).
    """

    default_api_url: ClassVar[str] = ""
    service: ClassVar[str] = ""
    token_field: ClassVar[str] = "token"
    auth_scheme: ClassVar[str] = "Bearer"
    """How the token is presented: ``Authorization: <scheme> <token>`` (empty: the bare token)."""

    def __init__(self, alias: str = "default", *, transport: Transport | None = None) -> None:
        super().__init__(alias)
        self._transport = transport

    def _client(self, headers: Mapping[str, str]) -> JsonClient:
        """A client with this invocation's credentials: ``ProviderNotConfigured`` outside an
        invocation or without a config, ``InvalidInput`` when the token is empty."""
        config = self.config
        token = config.get(self.token_field, "")
        if not token:
            raise InvalidInput(f"provider {self.ref.key} has no {self.token_field} set up")
        return JsonClient(
            self.service,
            config.get("api_url") or self.default_api_url,
            headers={"Authorization": f"{self.auth_scheme} {token}".strip(), **headers},
            transport=self._transport,
        )


def segment(what: str, value: str) -> str:
    """``value`` checked as a name and quoted as one URL path segment."""
    return urllib.parse.quote(check_name(what, value), safe="")


def names(what: str, values: Sequence[str]) -> list[str]:
    """A trigger filter's list, such as ``actions``: a non-empty list (not one string) of
    names; ``InvalidInput`` otherwise."""
    if isinstance(values, str) or not values:
        raise InvalidInput(f"{what} must be a non-empty list of names")
    return [check_name(what, v) for v in values]


def positive(what: str, value: int) -> int:
    """``value`` when it is an integer from 1 (not a bool); ``InvalidInput`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} must be a positive integer, not {value!r}")
    return value


def text(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, not {type(value).__name__}")
    return value


def json_object(service: str, answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise Unavailable(f"{service} answered with {type(answer).__name__}, not a JSON object")
    return answer
