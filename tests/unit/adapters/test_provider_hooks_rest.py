"""``RestProviderHooks`` never raises to the deploy: a provider that cannot be reached (a
closed loopback port) or credentials that are missing become ``failed`` outcomes that say what
to set up by hand. The provider's own answers are covered against loopback stand-ins of the
GitHub and GitLab APIs in ``tests/integration/test_provider_hooks.py``, the addresses the
calls may reach in ``tests/integration/test_provider_egress.py``."""

from __future__ import annotations

import socket

from floww.adapters.local.egress_rules import EgressRules
from floww.adapters.provider_hooks import RestProviderHooks
from floww.domain.model import ProviderRef
from floww.domain.provider_hooks import HookTarget

URL = "https://floww.example/webhook/wf_1/github/default"
# The closed ports these tests call are on loopback, which the server's calls are refused by
# default (tests/integration/test_provider_egress.py).
LOOPBACK_ALLOWED = EgressRules.parse("127.0.0.1/32", own_addresses=frozenset)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_provider_is_a_failed_outcome_with_what_to_do() -> None:
    hooks = RestProviderHooks(timeout_s=2, egress=LOOPBACK_ALLOWED)
    api = f"http://127.0.0.1:{_closed_port()}"
    for kind, secret_field in (("github", "webhook_secret"), ("gitlab", "webhook_token")):
        target = HookTarget(ProviderRef(kind), "acme/api", URL, ("push",))
        config = {"token": "t", secret_field: "s", "api_url": api}
        outcome = hooks.apply(target, config)
        assert outcome.failed, outcome
        assert "could not be reached" in outcome.message, outcome.message
        assert f"URL {URL}" in outcome.message and "by hand" in outcome.message


def test_missing_credentials_and_unsupported_providers_are_reported() -> None:
    hooks = RestProviderHooks(timeout_s=2, egress=LOOPBACK_ALLOWED)
    target = HookTarget(ProviderRef("github"), "acme/api", URL, ("push",))
    no_token = hooks.apply(target, {"webhook_secret": "s"})
    assert no_token.failed and "no token" in no_token.message
    slack = hooks.apply(HookTarget(ProviderRef("slack"), "x", URL, ("message",)), {})
    assert slack.failed and "not registered automatically" in slack.message
    removal = hooks.apply(
        HookTarget(ProviderRef("github"), "acme/api", URL, ()),
        {"token": "t", "api_url": f"http://127.0.0.1:{_closed_port()}"},
    )
    assert removal.failed and "delete the webhook" in removal.message


def test_stripe_enabled_events_are_exact_names_or_everything() -> None:
    from floww.adapters.provider_hooks.stripe import enabled_events

    assert enabled_events(("invoice.paid", "charge.refunded")) == [
        "charge.refunded",
        "invoice.paid",
    ]
    assert enabled_events(("invoice.paid", "invoice.*")) == ["*"]
    assert enabled_events(("*",)) == ["*"]


def test_an_unreachable_stripe_or_a_missing_key_is_a_failed_outcome() -> None:
    hooks = RestProviderHooks(timeout_s=2, egress=LOOPBACK_ALLOWED)
    target = HookTarget(ProviderRef("stripe"), "account", URL, ("invoice.paid",))
    api = f"http://127.0.0.1:{_closed_port()}"
    unreachable = hooks.apply(target, {"secret_key": "sk", "api_url": api})
    assert unreachable.failed and "could not be reached" in unreachable.message
    assert "Stripe's dashboard by hand" in unreachable.message
    missing = hooks.apply(target, {"api_url": api})
    assert missing.failed and "secret_key" in missing.message
    assert not unreachable.config_update and not missing.config_update


def test_an_unreachable_linear_or_a_missing_key_is_a_failed_outcome() -> None:
    hooks = RestProviderHooks(timeout_s=2, egress=LOOPBACK_ALLOWED)
    target = HookTarget(ProviderRef("linear"), "workspace", URL, ("Issue",))
    api = f"http://127.0.0.1:{_closed_port()}"
    unreachable = hooks.apply(target, {"api_key": "k", "webhook_secret": "s", "api_url": api})
    assert unreachable.failed and "could not be reached" in unreachable.message
    assert "Linear's API settings by hand" in unreachable.message
    missing = hooks.apply(target, {"webhook_secret": "s", "api_url": api})
    assert missing.failed and "api_key" in missing.message
