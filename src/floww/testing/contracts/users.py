"""Contract of ``Users``: accounts added once per email, found in any case, listed by email;
disabling refuses the user's access tokens and API keys at ``Identity.verify`` at once;
passwords change only with the current one, and a change ends every login of the user (API
keys stay); logout ends the login of an access token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs
import pytest

from floww.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from floww.domain.model import ApiKey, Principal
from floww.ports.identity import Identity
from floww.ports.users import Users

PASSWORD = "a long enough password"


class UsersAdapter(Users, Identity, Protocol):
    def create_api_key(
        self, user: Principal, namespace_id: str, name: str, scope: str = "deploy"
    ) -> tuple[str, ApiKey]: ...


@attrs.frozen
class UsersHarness:
    """A ``Users`` adapter that is also the ``Identity`` (and ``ApiKeys``) verifying its users'
    credentials, and ``sign_in``: a live access token of a new login of a user."""

    users: UsersAdapter
    sign_in: Callable[[Principal], str]


def _principal(harness: UsersHarness, email: str) -> Principal:
    account = harness.users.add_user(email, PASSWORD)
    return Principal(id=account.id, kind="user", email=account.email)


def test_accounts_are_added_once_found_in_any_case_and_listed(
    users_harness: UsersHarness,
) -> None:
    users = users_harness.users
    admin = users.add_user("root@example.com", PASSWORD, admin=True)
    ada = users.add_user("Ada@Example.com", PASSWORD)
    assert (ada.email, ada.admin, ada.disabled) == ("ada@example.com", False, False)
    assert admin.admin and ada.created_at.tzinfo is not None
    assert users.find_account("ADA@example.com") == ada
    assert users.find_account("nobody@example.com") is None
    assert users.get_account(ada.id) == ada
    assert [a.email for a in users.list_accounts()] == ["ada@example.com", "root@example.com"]
    with pytest.raises(Conflict):
        users.add_user("ada@EXAMPLE.com", PASSWORD)
    with pytest.raises(InvalidInput):
        users.add_user("not an email", PASSWORD)
    with pytest.raises(InvalidInput):
        users.add_user("short@example.com", "short")
    with pytest.raises(NotFound):
        users.get_account("user_nobody")
    assert PASSWORD not in repr(users.list_accounts())


def test_disabling_refuses_tokens_and_keys_at_once(users_harness: UsersHarness) -> None:
    users = users_harness.users
    ada = _principal(users_harness, "ada@example.com")
    bob = _principal(users_harness, "bob@example.com")
    token, bobs_token = users_harness.sign_in(ada), users_harness.sign_in(bob)
    key, _ = users.create_api_key(ada, "ns_1", "ci")
    assert users.verify(token).id == ada.id and users.verify(key).id == ada.id
    assert users.set_disabled(ada.id, True).disabled
    assert users.get_account(ada.id).disabled
    for credential in (token, key):
        with pytest.raises(Unauthenticated):
            users.verify(credential)
    assert users.verify(bobs_token).id == bob.id
    assert not users.set_disabled(ada.id, False).disabled
    assert users.verify(key).id == ada.id
    assert users.verify(users_harness.sign_in(ada)).id == ada.id
    with pytest.raises(NotFound):
        users.set_disabled("user_nobody", True)


def test_a_password_changes_only_with_the_current_one(users_harness: UsersHarness) -> None:
    users = users_harness.users
    ada = _principal(users_harness, "ada@example.com")
    with pytest.raises(Unauthenticated):
        users.change_password(ada.id, "not the password", "another long password")
    with pytest.raises(InvalidInput):
        users.change_password(ada.id, PASSWORD, "short")
    users.change_password(ada.id, PASSWORD, "another long password")
    with pytest.raises(Unauthenticated):
        users.change_password(ada.id, PASSWORD, "a third long password")
    users.change_password(ada.id, "another long password", "a third long password")


def test_a_password_change_ends_every_login_of_the_user(users_harness: UsersHarness) -> None:
    """A stolen login does not outlive the password its owner changes on discovering it."""
    users = users_harness.users
    ada = _principal(users_harness, "ada@example.com")
    bob = _principal(users_harness, "bob@example.com")
    stolen, bobs = users_harness.sign_in(ada), users_harness.sign_in(bob)
    key, _ = users.create_api_key(ada, "ns_1", "ci")
    users.change_password(ada.id, PASSWORD, "another long password")
    with pytest.raises(Unauthenticated):
        users.verify(stolen)
    assert users.verify(bobs).id == bob.id
    assert users.verify(key).id == ada.id  # keys are revoked one by one


def test_logout_ends_that_login_only(users_harness: UsersHarness) -> None:
    users = users_harness.users
    ada = _principal(users_harness, "ada@example.com")
    laptop, desktop = users_harness.sign_in(ada), users_harness.sign_in(ada)
    key, _ = users.create_api_key(ada, "ns_1", "ci")
    users.logout(laptop)
    with pytest.raises(Unauthenticated):
        users.verify(laptop)
    with pytest.raises(Unauthenticated):
        users.logout(laptop)
    with pytest.raises(Unauthenticated):
        users.logout(key)  # an API key is revoked, not logged out
    assert users.verify(desktop).id == ada.id
    assert users.verify(key).id == ada.id
