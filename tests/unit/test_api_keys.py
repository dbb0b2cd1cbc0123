"""The API-key use cases on the in-memory adapters: namespace rules on top of the ``ApiKeys``
port, and the fake keeping only digests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import attrs
import pytest

from floww.adapters.memory import InMemoryIdentity, ManualClock
from floww.domain.errors import InvalidInput, NotFound, PermissionDenied
from floww.domain.model import Principal
from floww.domain.usecases.api_keys import create_api_key, list_api_keys, revoke_api_key
from floww.domain.usecases.deps import ServerDeps
from floww.domain.usecases.workflows import create_namespace
from tests.support import memory_deps


@attrs.frozen
class Setup:
    deps: ServerDeps
    auth: InMemoryIdentity
    ada: Principal
    bob: Principal
    ns_a: str
    ns_b: str


@pytest.fixture
def setup() -> Iterator[Setup]:
    clock = ManualClock()
    auth = InMemoryIdentity(clock)
    with memory_deps(clock=clock, identity=auth) as deps:
        ada, bob = auth.create_user("ada@example.com"), auth.create_user("bob@example.com")
        ns_a = create_namespace(deps, ada, "a").id
        ns_b = create_namespace(deps, bob, "b").id
        yield Setup(deps, auth, ada, bob, ns_a, ns_b)


def test_a_member_creates_lists_and_revokes_keys_of_one_namespace(setup: Setup) -> None:
    s, repo = setup, setup.deps.repo
    ns_c = create_namespace(s.deps, s.ada, "c").id
    plaintext, key = create_api_key(s.ada, s.ns_a, "ci", repo=repo, keys=s.auth)
    _, other = create_api_key(s.ada, ns_c, "ci", repo=repo, keys=s.auth)
    assert s.auth.verify(plaintext).namespace_id == s.ns_a
    assert list_api_keys(s.ada, s.ns_a, repo=repo, keys=s.auth) == [key]
    assert list_api_keys(s.ada, ns_c, repo=repo, keys=s.auth) == [other]
    with pytest.raises(NotFound):  # the key exists, but not in this namespace
        revoke_api_key(s.ada, ns_c, key.id, repo=repo, keys=s.auth)
    revoke_api_key(s.ada, s.ns_a, key.id, repo=repo, keys=s.auth)
    assert list_api_keys(s.ada, s.ns_a, repo=repo, keys=s.auth) == []
    assert list_api_keys(s.ada, ns_c, repo=repo, keys=s.auth) == [other]


def test_a_namespace_one_may_not_use_is_not_found(setup: Setup) -> None:
    s, repo = setup, setup.deps.repo
    with pytest.raises(NotFound):
        create_api_key(s.ada, s.ns_b, "intruder", repo=repo, keys=s.auth)
    with pytest.raises(NotFound):
        list_api_keys(s.ada, s.ns_b, repo=repo, keys=s.auth)
    _, bobs = create_api_key(s.bob, s.ns_b, "ci", repo=repo, keys=s.auth)
    with pytest.raises(NotFound):
        revoke_api_key(s.ada, s.ns_b, bobs.id, repo=repo, keys=s.auth)
    with pytest.raises(NotFound):  # her own namespace, his key
        revoke_api_key(s.ada, s.ns_a, bobs.id, repo=repo, keys=s.auth)
    assert list_api_keys(s.bob, s.ns_b, repo=repo, keys=s.auth) == [bobs]


def test_an_api_key_cannot_manage_keys(setup: Setup) -> None:
    s, repo = setup, setup.deps.repo
    plaintext, key = create_api_key(s.ada, s.ns_a, "ci", repo=repo, keys=s.auth)
    as_key = s.auth.verify(plaintext)
    with pytest.raises(PermissionDenied):
        create_api_key(as_key, s.ns_a, "more", repo=repo, keys=s.auth)
    with pytest.raises(PermissionDenied):
        list_api_keys(as_key, s.ns_a, repo=repo, keys=s.auth)
    with pytest.raises(PermissionDenied):
        revoke_api_key(as_key, s.ns_a, key.id, repo=repo, keys=s.auth)
    with pytest.raises(NotFound):  # and reaches no other namespace either
        create_api_key(as_key, s.ns_b, "more", repo=repo, keys=s.auth)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_names_are_checked(setup: Setup, name: str) -> None:
    with pytest.raises(InvalidInput):
        create_api_key(setup.ada, setup.ns_a, name, repo=setup.deps.repo, keys=setup.auth)


def test_the_fake_keeps_only_a_digest(setup: Setup) -> None:
    plaintext, _ = setup.auth.create_api_key(setup.ada, setup.ns_a, "ci")
    stored = list(setup.auth._api_keys.values())
    assert [k.sha256 for k in stored] == [hashlib.sha256(plaintext.encode()).hexdigest()]
    assert plaintext not in repr(vars(setup.auth)) + repr([attrs.asdict(k) for k in stored])
