"""The rules of a replacement set of triggers and webhooks, which both repositories apply."""

from __future__ import annotations

import attrs
import pytest

from floww.domain.errors import Conflict, InvalidInput
from floww.domain.model import ProviderRef, Trigger, TriggerSource, TriggerSpec
from floww.domain.triggers import check_trigger_set, webhooks_for

DEPLOYMENT, DEV = TriggerSource.DEPLOYMENT, TriggerSource.DEV


def _trigger(trigger_id: str, path: str, source: TriggerSource = DEPLOYMENT) -> Trigger:
    spec = TriggerSpec(ProviderRef("builtin"), "webhook", {"path": path, "methods": ["GET"]})
    return Trigger(trigger_id, "wf_1", spec, source)


def test_a_consistent_set_passes() -> None:
    triggers = [_trigger("tr_1", "/orders/{id}"), _trigger("tr_2", "/orders/new")]
    check_trigger_set("wf_1", DEPLOYMENT, triggers, [h for t in triggers for h in webhooks_for(t)])


def test_each_broken_rule_is_named() -> None:
    one, twin = _trigger("tr_1", "/orders/{id}"), _trigger("tr_2", "/orders/{order_id}")
    hook = webhooks_for(one)[0]
    cases: list[tuple[type[Exception], str, list[Trigger], list[object]]] = [
        (Conflict, "share an id", [one, one], []),
        (InvalidInput, "belongs to wf_2", [attrs.evolve(one, workflow_id="wf_2")], []),
        (InvalidInput, "belongs to wf_1/dev", [_trigger("tr_1", "/x", DEV)], []),
        (InvalidInput, "belongs to wf_2", [one], [attrs.evolve(hook, workflow_id="wf_2")]),
        (InvalidInput, "unknown trigger tr_9", [one], [attrs.evolve(hook, trigger_id="tr_9")]),
        (Conflict, "both serve GET /orders/{}", [one, twin], [hook, *webhooks_for(twin)]),
    ]
    for error, reason, triggers, hooks in cases:
        with pytest.raises(error, match=reason):
            check_trigger_set("wf_1", DEPLOYMENT, triggers, hooks)  # type: ignore[arg-type]


def _github(trigger_id: str, branch: str, alias: str = "default") -> Trigger:
    spec = TriggerSpec(
        ProviderRef("github", alias), "push", {"owner": "a", "repository": "b", "branch": branch}
    )
    return Trigger(trigger_id, "wf_1", spec, DEPLOYMENT)


def test_triggers_of_one_provider_alias_share_its_stable_path() -> None:
    main, release = _github("tr_1", "main"), _github("tr_2", "release")
    other = _github("tr_3", "main", alias="work")
    hooks = [h for t in (main, release, other) for h in webhooks_for(t)]
    assert [h.path for h in hooks] == ["/github/default", "/github/default", "/github/work"]
    check_trigger_set("wf_1", DEPLOYMENT, [main, release, other], hooks)
    # the path does not depend on the filters: a changed branch keeps it
    assert webhooks_for(_github("tr_1", "stable"))[0].path == "/github/default"


def test_a_builtin_webhook_on_a_provider_path_is_refused() -> None:
    main = _github("tr_1", "main")
    spec = TriggerSpec(ProviderRef("builtin"), "webhook", {"path": "/github/default"})
    builtin = Trigger("tr_2", "wf_1", spec, DEPLOYMENT)
    hooks = [*webhooks_for(main), *webhooks_for(builtin)]
    with pytest.raises(Conflict, match="both serve POST /github/default"):
        check_trigger_set("wf_1", DEPLOYMENT, [main, builtin], hooks)
    with pytest.raises(Conflict, match="both serve POST /github/default"):
        check_trigger_set("wf_1", DEPLOYMENT, [builtin, main], hooks[::-1])
