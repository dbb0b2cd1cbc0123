"""Organizations -> namespaces and memberships -> members (``usecases.provisioning``), over the
in-memory repository."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from floww.adapters.memory import InMemorySecretBox, InMemoryWorkflowRepo, ManualClock
from floww.domain.model import Namespace
from floww.domain.usecases.provisioning import (
    OrganizationRole,
    member_role,
    namespace_id_for,
    namespace_name_for,
    sync_memberships,
)
from floww.domain.usecases.workflows import validate_name

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _repo() -> InMemoryWorkflowRepo:
    return InMemoryWorkflowRepo(InMemorySecretBox())


def test_roles_map_to_floww_roles_and_unknown_ones_to_the_least() -> None:
    assert [member_role(s) for s in ("admin", "Owner", "member", "developer", "viewer")] == [
        "owner",
        "owner",
        "developer",
        "developer",
        "viewer",
    ]
    assert member_role("billing-manager") == "viewer"


@given(st.text(max_size=80))
def test_every_organization_name_gives_a_valid_namespace_name(name: str) -> None:
    assert validate_name("namespace", namespace_name_for(name, "org_01ABCDEF123456"))


def test_first_sight_creates_namespaces_and_members_and_a_second_changes_nothing() -> None:
    repo, clock = _repo(), ManualClock(NOW)
    orgs = [
        OrganizationRole("org_01AAA", "Acme Corp", "admin"),
        OrganizationRole("org_01BBB", "Beta", "viewer"),
    ]

    ids = sync_memberships(repo, clock, "user_1", orgs)
    again = sync_memberships(repo, clock, "user_1", orgs)

    assert ids == again == ["ns_org_01aaa", "ns_org_01bbb"]
    assert [n.name for n in repo.list_namespaces("user_1")] == ["acme-corp", "beta"]
    assert [repo.get_member(i, "user_1").role for i in ids] == ["owner", "viewer"]  # type: ignore[union-attr]
    assert namespace_id_for("org_01AAA") == "ns_org_01aaa"


def test_a_taken_name_gets_the_organization_id_appended() -> None:
    repo, clock = _repo(), ManualClock(NOW)
    repo.create_namespace(Namespace("ns_local", "acme", NOW))
    [made] = sync_memberships(
        repo, clock, "u", [OrganizationRole("org_01XYZ789", "ACME", "member")]
    )
    assert repo.get_namespace(made).name == "acme-xyz789"
    assert repo.get_member("ns_local", "u") is None


def test_a_role_changed_in_the_organization_changes_the_member() -> None:
    repo, clock = _repo(), ManualClock(NOW)
    sync_memberships(repo, clock, "u", [OrganizationRole("org_1", "A", "member")])
    sync_memberships(repo, clock, "u", [OrganizationRole("org_1", "A", "admin")])
    assert repo.get_member("ns_org_1", "u").role == "owner"  # type: ignore[union-attr]
