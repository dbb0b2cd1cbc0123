from __future__ import annotations

import pytest

from floww import Builtin, GitHub, GitLab, Secret, Slack
from floww.domain.errors import InvalidInput, NotFound, ProviderNotConfigured
from floww.domain.model import ProviderField, ProviderRef, TriggerSpec
from floww.sdk.catalog import fields_for, provider_types
from floww.sdk.config import provider_configs
from floww.sdk.declarations import collecting

from .conftest import Load


def test_provider_usage_is_recorded_sorted_and_unique_without_builtin(load: Load) -> None:
    loaded = load(
        {
            "main.py": """
            from floww import Builtin, GitHub, Secret, Slack
            builtin = Builtin()
            slack = Slack("ops")
            github = GitHub()
            stripe = Secret("stripe", fields=("api_key",))
            again = GitHub()

            @github.on_push(owner="acme", repository="api", branch="main")
            def pushed(ctx, event): ...

            @github.on_push(owner="acme", repository="api")
            def any_branch(ctx, event): ...

            @slack.on_message(channel="#ops")
            def said(ctx, event): ...
            """
        }
    )
    assert loaded.definitions.providers == (
        ProviderRef("github", "default"),
        ProviderRef("secret", "stripe"),
        ProviderRef("slack", "ops"),
    )
    assert loaded.definitions.triggers == (
        TriggerSpec(
            ProviderRef("github"), "push", {"owner": "acme", "repository": "api", "branch": "main"}
        ),
        TriggerSpec(ProviderRef("github"), "push", {"owner": "acme", "repository": "api"}),
        TriggerSpec(ProviderRef("slack", "ops"), "message", {"channel": "#ops"}),
    )
    assert loaded.definitions.provider_fields["secret:stripe"] == (
        ProviderField("api_key", label="api_key", secret=True),
    )


def test_nothing_is_recorded_without_an_active_collector() -> None:
    github = GitHub()

    @github.on_push(owner="acme", repository="api")
    def pushed(ctx: object, event: object) -> str:
        return "called"

    assert pushed(None, None) == "called"
    with collecting() as declarations:
        Builtin()
        Secret("token")
    assert list(declarations.providers) == [ProviderRef("secret", "token")]


def test_config_is_read_from_the_current_invocation_only() -> None:
    github, stripe = GitHub("work"), Secret("stripe", fields=("api_key",))
    with pytest.raises(ProviderNotConfigured) as outside:
        _ = github.config
    assert outside.value.missing == (("github", "work"),)

    with provider_configs({"github:work": {"token": "t0k"}, "secret:stripe": {"api_key": "sk"}}):
        assert github.config == {"token": "t0k"}
        assert stripe["api_key"] == "sk"
        assert stripe.get("other") is None
        with pytest.raises(KeyError):
            stripe["other"]
        with pytest.raises(ProviderNotConfigured):
            _ = GitHub().config
    with pytest.raises(ProviderNotConfigured):
        _ = stripe["api_key"]


def test_catalog_lists_types_and_their_fields() -> None:
    assert list(provider_types()) == [
        "builtin",
        "discord",
        "github",
        "gitlab",
        "jira",
        "linear",
        "secret",
        "slack",
        "standard_webhooks",
        "stripe",
        "todoist",
    ]
    # One catalogue: the SDK's classes and the server's rules name the same types and fields.
    from floww.domain.providers import CATALOGUE

    assert set(provider_types()) == set(CATALOGUE)
    for name in provider_types():
        if name != "secret":
            assert fields_for(name) == CATALOGUE[name].fields
    assert [f.name for f in fields_for("github")] == ["token", "webhook_secret", "api_url"]
    assert [f.name for f in fields_for("slack")] == ["bot_token", "signing_secret", "api_url"]
    for kind in ("github", "slack"):
        optional = [f for f in fields_for(kind) if not f.required]
        assert [(f.name, f.secret) for f in optional] == [("api_url", False)]
        assert all(f.secret for f in fields_for(kind) if f.required)
    assert fields_for("builtin") == ()
    with pytest.raises(NotFound):
        fields_for("notion")


def test_builtin_needs_no_config() -> None:
    assert Builtin().config == {}
    assert Builtin().ref == ProviderRef("builtin", "default")
    assert Slack("ops").ref.key == "slack:ops"


def test_trigger_filter_lists_are_non_empty_lists_of_names() -> None:
    github, gitlab = GitHub(), GitLab()
    with collecting() as declarations:
        github.on_issues("acme", "api", actions=["opened", "closed"])(lambda ctx, event: None)
        gitlab.on_pipeline("acme/api", statuses=["failed"])(lambda ctx, event: None)
    assert [d.spec.input for d in declarations.triggers] == [
        {"owner": "acme", "repository": "api", "actions": ["opened", "closed"]},
        {"project": "acme/api", "statuses": ["failed"]},
    ]
    refused = [
        lambda: github.on_pull_request("acme", "api", actions="opened"),
        lambda: github.on_issues("acme", "api", actions=[]),
        lambda: gitlab.on_merge_request("acme/api", actions=[]),
        lambda: gitlab.on_pipeline("acme/api", statuses="failed"),
    ]
    for declare in refused:
        with pytest.raises(InvalidInput, match=r"^(actions|statuses) must be a non-empty list"):
            declare()
    with pytest.raises(InvalidInput, match="actions"):
        gitlab.on_merge_request("acme/api", actions=["open", ""])
