"""Contract of ``ApiKeys``: keys shown once, verified to a namespace-bound principal, listed
without secrets, revoked one by one, and managed by users only."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pytest

from floww.domain.errors import InvalidInput, NotFound, Unauthenticated
from floww.domain.model import ApiKey, Principal
from floww.ports.api_keys import ApiKeys

if TYPE_CHECKING:
    from floww.testing.contracts.harness import AuthHarness


def keys_of(harness: AuthHarness) -> ApiKeys:
    return cast(ApiKeys, harness.auth)


def test_a_new_key_is_shown_once_and_verifies_to_its_namespace(
    api_keys_harness: AuthHarness,
) -> None:
    user = api_keys_harness.make_user("ada@example.com")
    plaintext, info = keys_of(api_keys_harness).create_api_key(user, "ns_1", " ci ")
    assert isinstance(info, ApiKey)
    assert (info.name, info.namespace_id, info.user_id) == ("ci", "ns_1", user.id)
    assert info.created_at.tzinfo is not None
    assert plaintext.startswith("floww_") and len(plaintext) >= 32
    assert info.hint.endswith(plaintext[-4:]) and plaintext not in info.hint
    assert plaintext not in repr(info)
    principal = api_keys_harness.auth.verify(plaintext)
    assert (principal.kind, principal.id, principal.namespace_id) == ("api_key", user.id, "ns_1")
    assert principal.workflow_id is None and principal.execution_id is None


def test_keys_are_distinct_and_listed_oldest_first_per_user(
    api_keys_harness: AuthHarness,
) -> None:
    keys = keys_of(api_keys_harness)
    ada = api_keys_harness.make_user("ada@example.com")
    bob = api_keys_harness.make_user("bob@example.com")
    first_key, first = keys.create_api_key(ada, "ns_1", "ci")
    api_keys_harness.clock.advance(1)
    second_key, second = keys.create_api_key(ada, "ns_2", "ci")
    _, bobs = keys.create_api_key(bob, "ns_1", "bob's")
    assert first_key != second_key and first.id != second.id
    assert keys.list_api_keys(ada) == [first, second]
    assert keys.list_api_keys(bob) == [bobs]
    assert api_keys_harness.auth.verify(second_key).namespace_id == "ns_2"


def test_revoked_keys_stop_working_at_once_and_only_that_one(
    api_keys_harness: AuthHarness,
) -> None:
    keys = keys_of(api_keys_harness)
    user = api_keys_harness.make_user("ada@example.com")
    gone_key, gone = keys.create_api_key(user, "ns_1", "old")
    kept_key, kept = keys.create_api_key(user, "ns_1", "new")
    keys.revoke_api_key(user, gone.id)
    with pytest.raises(Unauthenticated):
        api_keys_harness.auth.verify(gone_key)
    assert api_keys_harness.auth.verify(kept_key).kind == "api_key"
    assert keys.list_api_keys(user) == [kept]
    with pytest.raises(NotFound):
        keys.revoke_api_key(user, gone.id)
    with pytest.raises(NotFound):
        keys.revoke_api_key(user, "key_unknown")


def test_another_users_key_is_not_found_and_keeps_working(api_keys_harness: AuthHarness) -> None:
    keys = keys_of(api_keys_harness)
    ada = api_keys_harness.make_user("ada@example.com")
    eve = api_keys_harness.make_user("eve@example.com")
    plaintext, info = keys.create_api_key(ada, "ns_1", "ci")
    with pytest.raises(NotFound):
        keys.revoke_api_key(eve, info.id)
    assert api_keys_harness.auth.verify(plaintext).id == ada.id
    assert keys.list_api_keys(eve) == []


def test_keys_are_the_principals_and_its_kind_is_the_callers_business(
    api_keys_harness: AuthHarness,
) -> None:
    """Who may manage keys (users only) is decided once, in ``usecases.api_keys``; the
    adapter keeps the keys of ``principal.id`` and does not judge the principal's kind."""
    keys = keys_of(api_keys_harness)
    user = api_keys_harness.make_user("ada@example.com")
    plaintext, info = keys.create_api_key(user, "ns_1", "ci")
    as_key = api_keys_harness.auth.verify(plaintext)
    assert as_key.kind == "api_key" and as_key.id == user.id
    assert keys.list_api_keys(as_key) == [info]
    keys.revoke_api_key(as_key, info.id)
    assert keys.list_api_keys(user) == []


def test_bad_input_and_unknown_users_are_refused(api_keys_harness: AuthHarness) -> None:
    keys = keys_of(api_keys_harness)
    user = api_keys_harness.make_user("ada@example.com")
    for namespace_id, name in (("", "ci"), ("ns_1", ""), ("ns_1", "   ")):
        with pytest.raises(InvalidInput):
            keys.create_api_key(user, namespace_id, name)
    with pytest.raises(NotFound):
        keys.create_api_key(Principal(id="user_nobody", kind="user"), "ns_1", "ci")
    assert keys.list_api_keys(user) == []


def test_forged_keys_are_refused(api_keys_harness: AuthHarness) -> None:
    user = api_keys_harness.make_user("ada@example.com")
    plaintext, _ = keys_of(api_keys_harness).create_api_key(user, "ns_1", "ci")
    for forged in ("floww_", "floww_" + "A" * 43, plaintext[:-1], plaintext + "x"):
        with pytest.raises(Unauthenticated):
            api_keys_harness.auth.verify(forged)
