"""What a deploy asks of providers' webhooks (``floww.domain.provider_hooks.hook_targets``),
and the shared path's index returning every trigger of the alias."""

from __future__ import annotations

from floww.domain.model import ProviderRef, Trigger, TriggerSpec
from floww.domain.provider_hooks import HookTarget, hook_targets
from floww.domain.routing_table import WebhookIndex
from floww.domain.triggers import webhook_endpoints, webhooks_for

GITHUB = ProviderRef("github", "default")
URL = "https://floww.example/webhook/wf_1/github/default"


def _push(repository: str, branch: str, kind: str = "push") -> TriggerSpec:
    return TriggerSpec(GITHUB, kind, {"owner": "acme", "repository": repository, "branch": branch})


def test_one_hook_per_repository_with_the_events_of_its_triggers() -> None:
    after = [_push("api", "main"), _push("api", "release"), _push("api", "x", "pull_request")]
    assert hook_targets("https://floww.example/", "wf_1", [], after) == (
        HookTarget(GITHUB, "acme/api", URL, ("pull_request", "push")),
    )


def test_a_repository_without_triggers_any_more_is_a_removal() -> None:
    before = [_push("api", "main"), _push("web", "main")]
    after = [_push("api", "stable")]
    targets = hook_targets("https://floww.example", "wf_1", before, after)
    assert targets == (
        HookTarget(GITHUB, "acme/api", URL, ("push",)),
        HookTarget(GITHUB, "acme/web", URL, ()),
    )
    assert targets[1].removal and not targets[0].removal


def test_providers_set_up_by_hand_and_builtin_triggers_ask_nothing() -> None:
    slack = TriggerSpec(ProviderRef("slack", "default"), "message", {})
    cron = TriggerSpec(ProviderRef("builtin"), "cron", {"expression": "* * * * *"})
    assert hook_targets("https://floww.example", "wf_1", [slack], [cron]) == ()


def test_the_shared_path_finds_every_trigger_and_is_listed_once() -> None:
    triggers = [
        Trigger("tr_1", "wf_1", _push("api", "main")),
        Trigger("tr_2", "wf_1", _push("api", "release")),
    ]
    hooks = [h for t in triggers for h in webhooks_for(t)]
    found = WebhookIndex(hooks).find("POST", "/github/default")
    assert [h.trigger_id for h, _ in found] == ["tr_1", "tr_2"]
    [endpoint] = webhook_endpoints("https://floww.example", hooks, {t.id: t.spec for t in triggers})
    assert endpoint.line == f"POST {URL}"
    assert endpoint.triggers == tuple(t.spec.describe() for t in triggers)


def test_one_stripe_endpoint_per_alias_with_the_union_of_the_triggers_types() -> None:
    stripe = ProviderRef("stripe", "default")
    url = "https://floww.example/webhook/wf_1/stripe/default"
    after = [
        TriggerSpec(stripe, "event", {"types": ["invoice.paid", "charge.refunded"]}),
        TriggerSpec(stripe, "event", {"types": ["invoice.paid"]}),
    ]
    assert hook_targets("https://floww.example", "wf_1", [], after) == (
        HookTarget(stripe, "account", url, ("charge.refunded", "invoice.paid")),
    )
    assert hook_targets("https://floww.example", "wf_1", after, []) == (
        HookTarget(stripe, "account", url, ()),
    )


def test_one_linear_webhook_per_alias_for_the_resource_types_of_its_triggers() -> None:
    linear = ProviderRef("linear", "default")
    url = "https://floww.example/webhook/wf_1/linear/default"
    after = [
        TriggerSpec(linear, "issue", {"team_id": "t1"}),
        TriggerSpec(linear, "comment", {}),
        TriggerSpec(linear, "issue", {}),
    ]
    assert hook_targets("https://floww.example", "wf_1", [], after) == (
        HookTarget(linear, "workspace", url, ("Comment", "Issue")),
    )
