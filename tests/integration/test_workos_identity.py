"""``WorkOSIdentity`` and its verifier against the WorkOS stand-in (a real loopback server, the
real ``workos`` SDK and PyJWT's JWKS client): tokens accepted and refused, key rotation, the
rate limit on refreshes, provisioning, and WorkOS failing.

The stand-in does not cover WorkOS's own rate limits, custom auth domains (issuers), or its
exact error texts; see ``floww.testing.workos_standin``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from floww.adapters.inprocess import SystemClock
from floww.adapters.memory import InMemorySecretBox, InMemoryWorkflowRepo
from floww.adapters.workos import WorkOSDirectory, WorkOSIdentity, WorkOSTokenVerifier
from floww.domain.errors import Unauthenticated, Unavailable
from floww.domain.usecases.provisioning import namespace_id_for, sync_memberships
from floww.testing.workos_standin import WorkOSStandIn
from tests.integration.serving import free_port

pytestmark = pytest.mark.integration

CLIENT = "client_floww"


@pytest.fixture
def standin() -> Iterator[WorkOSStandIn]:
    with WorkOSStandIn(clients=(CLIENT, "client_other")) as running:
        yield running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _identity(
    standin: WorkOSStandIn, *, base_url: str | None = None, **kwargs: Any
) -> tuple[WorkOSIdentity, InMemoryWorkflowRepo, Clock]:
    url = base_url or standin.url
    repo = InMemoryWorkflowRepo(InMemorySecretBox())
    clock = SystemClock()
    ticks = Clock()
    identity = WorkOSIdentity(
        WorkOSTokenVerifier(url, CLIENT, monotonic=ticks),
        WorkOSDirectory(api_key=standin.api_key, client_id=CLIENT, base_url=url, max_retries=0),
        lambda user_id, orgs: sync_memberships(repo, clock, user_id, orgs),
        monotonic=ticks,
        **kwargs,
    )
    return identity, repo, ticks


def _member(standin: WorkOSStandIn, email: str, org: str, role: str = "member") -> str:
    user = standin.add_user(email)
    org_id = next((o for o, d in standin.organizations.items() if d["name"] == org), None)
    standin.add_membership(user, org_id or standin.add_organization(org), role)
    return user


def test_a_valid_token_gives_the_user_provisioned_with_its_organizations(
    standin: WorkOSStandIn,
) -> None:
    user = _member(standin, "ada@acme.test", "Acme Corp", "admin")
    org_id = next(iter(standin.organizations))
    identity, repo, _ = _identity(standin)

    principal = identity.verify(standin.access_token(user))

    assert (principal.id, principal.kind, principal.email) == (user, "user", "ada@acme.test")
    [namespace] = repo.list_namespaces(user)
    assert (namespace.id, namespace.name) == (namespace_id_for(org_id), "acme-corp")
    member = repo.get_member(namespace.id, user)
    assert member is not None and member.role == "owner"


def test_tokens_that_are_not_this_clients_are_refused(standin: WorkOSStandIn) -> None:
    user = _member(standin, "ada@acme.test", "Acme")
    identity, _, _ = _identity(standin)
    identity.verify(standin.access_token(user))  # the key set is cached now

    refused = {
        "expired": standin.access_token(user, expires_in=-120),
        "other client": standin.access_token(user, client_id="client_other"),
        "other client's issuer, our key": standin.access_token(
            user, client_id="client_other", signed_by=CLIENT
        ),
        "client_id claim of another": standin.access_token(
            user, extra={"client_id": "client_other"}
        ),
        "unknown key": standin.access_token(user, signed_by="forger"),
        "no session id": standin.access_token(user, extra={"sid": None}),
        "alg none": jwt.encode({"sub": user}, None, algorithm="none"),
        "HS256 with the kid": jwt.encode(
            {"sub": user, "iss": standin.url, "exp": 2**40, "sid": "s"},
            "x" * 32,
            algorithm="HS256",
            headers={"kid": standin.keys[CLIENT][0].kid},
        ),
        "garbage": "not-a-token",
    }
    for name, token in refused.items():
        with pytest.raises(Unauthenticated):
            identity.verify(token)
            pytest.fail(f"{name} was accepted")


def test_a_rotated_key_is_accepted_after_one_refresh(standin: WorkOSStandIn) -> None:
    user = _member(standin, "ada@acme.test", "Acme")
    identity, _, _ = _identity(standin)
    identity.verify(standin.access_token(user))
    assert standin.jwks_fetches[CLIENT] == 1

    standin.rotate(CLIENT)
    assert identity.verify(standin.access_token(user)).id == user

    assert standin.jwks_fetches[CLIENT] == 2
    identity.verify(standin.access_token(user))
    assert standin.jwks_fetches[CLIENT] == 2  # the new key is cached


def test_unknown_keys_refresh_the_key_set_at_most_once_per_interval(
    standin: WorkOSStandIn,
) -> None:
    user = _member(standin, "ada@acme.test", "Acme")
    identity, _, ticks = _identity(standin)
    identity.verify(standin.access_token(user))

    for _ in range(20):
        with pytest.raises(Unauthenticated, match="unknown key"):
            identity.verify(standin.access_token(user, signed_by="forger"))
    assert standin.jwks_fetches[CLIENT] == 2  # the first forgery refreshed; the rest did not

    standin.rotate(CLIENT)
    with pytest.raises(Unauthenticated):  # a real rotation inside the interval waits...
        identity.verify(standin.access_token(user))
    ticks.now += 31
    assert identity.verify(standin.access_token(user)).id == user  # ...until it is over
    assert standin.jwks_fetches[CLIENT] == 3


def test_workos_answering_5xx_or_unreachable_is_unavailable(standin: WorkOSStandIn) -> None:
    user = _member(standin, "ada@acme.test", "Acme")
    token = standin.access_token(user)
    standin.fail_with = 503
    identity, _, _ = _identity(standin)
    with pytest.raises(Unavailable, match="WorkOS"):
        identity.verify(token)

    dead = f"http://127.0.0.1:{free_port()}"
    nowhere, _, _ = _identity(standin, base_url=dead)
    with pytest.raises(Unavailable, match="WorkOS"):
        nowhere.verify(token)


def test_directory_reads_failing_after_provisioning_keep_the_last_one(
    standin: WorkOSStandIn,
) -> None:
    user = _member(standin, "ada@acme.test", "Acme")
    identity, _, ticks = _identity(standin, sync_interval=60)
    assert identity.verify(standin.access_token(user)).email == "ada@acme.test"

    standin.fail_with = 500
    ticks.now += 61
    assert identity.verify(standin.access_token(user)).email == "ada@acme.test"

    other = _member(standin, "bob@beta.test", "Beta")
    with pytest.raises(Unavailable):  # never provisioned: nothing to fall back on
        identity.verify(standin.access_token(other))


def test_memberships_follow_workos_roles_and_organizations_stay_apart(
    standin: WorkOSStandIn,
) -> None:
    ada = _member(standin, "ada@acme.test", "Acme", "member")
    bob = _member(standin, "bob@beta.test", "Beta", "viewer")
    identity, repo, ticks = _identity(standin, sync_interval=60)
    identity.verify(standin.access_token(ada))
    identity.verify(standin.access_token(bob))

    [acme] = repo.list_namespaces(ada)
    [beta] = repo.list_namespaces(bob)
    assert acme.id != beta.id
    assert repo.get_member(acme.id, bob) is None and repo.get_member(beta.id, ada) is None
    viewer = repo.get_member(beta.id, bob)
    assert viewer is not None and viewer.role == "viewer"
    member = repo.get_member(acme.id, ada)
    assert member is not None and member.role == "developer"

    standin.memberships[0]["role"] = {"slug": "admin"}  # promoted in WorkOS
    ticks.now += 61
    identity.verify(standin.access_token(ada))
    member = repo.get_member(acme.id, ada)
    assert member is not None and member.role == "owner"


def test_known_keys_stay_in_use_when_a_stale_key_set_cannot_be_fetched(
    standin: WorkOSStandIn,
) -> None:
    user = _member(standin, "ada@acme.test", "Acme")
    identity, _, ticks = _identity(standin, sync_interval=3600)
    identity.verify(standin.access_token(user))

    standin.fail_with = 503
    ticks.now += 301  # past the key set's lifespan: the server tries to fetch it again
    assert identity.verify(standin.access_token(user)).id == user
    assert "GET /sso/jwks/client_floww" in standin.requests[-1]


def test_a_token_of_a_user_deleted_in_workos_is_refused(standin: WorkOSStandIn) -> None:
    user = _member(standin, "ada@acme.test", "Acme")
    token = standin.access_token(user)
    del standin.users[user]
    identity, _, _ = _identity(standin)
    with pytest.raises(Unauthenticated, match="no longer exists"):
        identity.verify(token)
