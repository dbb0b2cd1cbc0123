"""The API-key use cases on the in-memory adapters: namespace rules on top of the ``ApiKeys``
port, and the fake keeping only digests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import attrs
import pytest

from floww.adapters.memory import InMemoryIdentity, ManualClock
from floww.domain.errors import InvalidInput, NotFound, PermissionDenied, Unavailable
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
    s = setup
    ns_c = create_namespace(s.deps, s.ada, "c").id
    plaintext, key = create_api_key(s.deps, s.ada, s.ns_a, "ci")
    _, other = create_api_key(s.deps, s.ada, ns_c, "ci")
    assert s.auth.verify(plaintext).namespace_id == s.ns_a
    assert list_api_keys(s.deps, s.ada, s.ns_a) == [key]
    assert list_api_keys(s.deps, s.ada, ns_c) == [other]
    with pytest.raises(NotFound):  # the key exists, but not in this namespace
        revoke_api_key(s.deps, s.ada, ns_c, key.id)
    revoke_api_key(s.deps, s.ada, s.ns_a, key.id)
    assert list_api_keys(s.deps, s.ada, s.ns_a) == []
    assert list_api_keys(s.deps, s.ada, ns_c) == [other]


def test_a_namespace_one_may_not_use_is_not_found(setup: Setup) -> None:
    s = setup
    with pytest.raises(NotFound):
        create_api_key(s.deps, s.ada, s.ns_b, "intruder")
    with pytest.raises(NotFound):
        list_api_keys(s.deps, s.ada, s.ns_b)
    _, bobs = create_api_key(s.deps, s.bob, s.ns_b, "ci")
    with pytest.raises(NotFound):
        revoke_api_key(s.deps, s.ada, s.ns_b, bobs.id)
    with pytest.raises(NotFound):  # her own namespace, his key
        revoke_api_key(s.deps, s.ada, s.ns_a, bobs.id)
    assert list_api_keys(s.deps, s.bob, s.ns_b) == [bobs]


def test_an_api_key_cannot_manage_keys(setup: Setup) -> None:
    s = setup
    plaintext, key = create_api_key(s.deps, s.ada, s.ns_a, "ci")
    as_key = s.auth.verify(plaintext)
    with pytest.raises(PermissionDenied):
        create_api_key(s.deps, as_key, s.ns_a, "more")
    with pytest.raises(PermissionDenied):
        list_api_keys(s.deps, as_key, s.ns_a)
    with pytest.raises(PermissionDenied):
        revoke_api_key(s.deps, as_key, s.ns_a, key.id)
    with pytest.raises(NotFound):  # and reaches no other namespace either
        create_api_key(s.deps, as_key, s.ns_b, "more")


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_names_are_checked(setup: Setup, name: str) -> None:
    with pytest.raises(InvalidInput):
        create_api_key(setup.deps, setup.ada, setup.ns_a, name)


def test_the_fake_keeps_only_a_digest(setup: Setup) -> None:
    plaintext, _ = setup.auth.create_api_key(setup.ada, setup.ns_a, "ci")
    stored = list(setup.auth._api_keys.values())
    assert [k.sha256 for k in stored] == [hashlib.sha256(plaintext.encode()).hexdigest()]
    assert plaintext not in repr(vars(setup.auth)) + repr([attrs.asdict(k) for k in stored])


def test_a_server_without_api_keys_says_so(setup: Setup) -> None:
    without = attrs.evolve(setup.deps, api_keys=None)
    with pytest.raises(Unavailable, match="does not manage API keys"):
        list_api_keys(without, setup.ada, setup.ns_a)
