"""``Builtin``: the triggers the platform itself offers (webhooks, cron schedules, manual runs).

It needs no credentials, so creating one records no provider usage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

from floww.domain.cron import CronSchedule
from floww.domain.errors import InvalidInput
from floww.domain.paths import PathTemplate
from floww.sdk.declarations import (
    check_handler,
    check_name,
    declare_trigger,
    trigger_spec,
    user_location,
)
from floww.sdk.providers import Provider
from floww.sdk.retry import Retry, with_retry

__all__ = ["HTTP_METHODS", "Builtin"]

H = TypeVar("H", bound=Callable[..., Any])

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Builtin(Provider):
    type = "builtin"
    fields = ()

    def __init__(self) -> None:
        # Deliberately not Provider.__init__: builtin needs no credentials, so it is no usage.
        self.alias = "default"

    @property
    def config(self) -> Mapping[str, str]:
        return {}

    def webhook(self, path: str, methods: Sequence[str] = ("POST",)) -> Callable[[H], H]:
        """Serve ``path`` (a template like ``/orders/{order_id}``) for ``methods``.

        The handler's return value becomes the HTTP response (``Response`` for status and
        headers).
        """
        template = PathTemplate.parse(path)
        return self._trigger("webhook", {"path": template.template, "methods": _methods(methods)})

    def cron(self, expression: str, *, retry: Retry | None = None) -> Callable[[H], H]:
        """Run on a 5-field cron schedule, evaluated in UTC; ``retry`` runs a failed tick
        again."""
        schedule = CronSchedule.parse(expression)
        return self._trigger("cron", {"expression": schedule.expression}, retry)

    @overload
    def manual(self, name: H) -> H: ...

    @overload
    def manual(
        self, name: str | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H]: ...

    def manual(
        self, name: str | H | None = None, *, retry: Retry | None = None
    ) -> Callable[[H], H] | H:
        """Run on demand (dashboard, CLI, API). ``name`` defaults to the function's name;
        ``retry`` runs a failed run again (the caller waiting on a run sees its first
        attempt; the following ones run in the background).

        Usable bare (``@builtin.manual``) or called (``@builtin.manual("greet")``).
        """
        location = user_location()
        if callable(name):
            return self._manual(name, None, location, None)
        if name is not None:
            check_name("manual trigger name", name)
        given = name

        def decorator(handler: H) -> H:
            return self._manual(handler, given, location, retry)

        return decorator

    def _manual(
        self, handler: H, name: str | None, location: tuple[str, int], retry: Retry | None
    ) -> H:
        check_handler(handler)
        trigger_name = name if name is not None else getattr(handler, "__name__", "")
        input = {"name": check_name("manual trigger name", trigger_name)}
        spec = trigger_spec(self.ref, "manual", with_retry(input, retry))
        declare_trigger(spec, handler, location)
        return handler


def _methods(methods: Sequence[str]) -> list[str]:
    if isinstance(methods, str):
        methods = [methods]
    if not isinstance(methods, Sequence) or not methods:
        raise InvalidInput(f"webhook methods must be a non-empty list, not {methods!r}")
    normalized = set()
    for method in methods:
        if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
            allowed = ", ".join(sorted(HTTP_METHODS))
            raise InvalidInput(f"unknown HTTP method {method!r} (one of {allowed})")
        normalized.add(method.upper())
    return sorted(normalized)
