"""Provisioning users that an identity provider vouches for: organizations become namespaces and
organization memberships become namespace members.

The mapping (``docs/cloud-identity.md``):

- organization ``org_01ABC`` -> namespace id ``ns_org_01abc`` (ids are case-insensitive ULIDs;
  namespace ids go into registry repository names, which are lower case). Its name is the
  organization's name made into a namespace name (``Acme Corp`` -> ``acme-corp``), with the
  end of the organization id appended when another namespace has that name already.
- role slug -> member role: ``owner`` / ``admin`` -> ``owner``, ``developer`` / ``member`` ->
  ``developer``, ``viewer`` and any other slug -> ``viewer`` (the least, for roles floww does
  not know).

``sync_memberships`` is idempotent and safe on several replicas at once: a namespace another
replica created first is used as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from floww.domain.errors import Conflict, NotFound
from floww.domain.model import Member, Namespace
from floww.ports.support import Clock
from floww.ports.workflow_repo import WorkflowRepo

__all__ = [
    "OrganizationRole",
    "member_role",
    "namespace_id_for",
    "namespace_name_for",
    "sync_memberships",
]

_ROLES = {
    "owner": "owner",
    "admin": "owner",
    "developer": "developer",
    "member": "developer",
    "viewer": "viewer",
}
_NOT_NAME = re.compile(r"[^a-z0-9._-]+")


@attrs.frozen
class OrganizationRole:
    """A user's active membership in one organization, with the role slug it carries."""

    organization_id: str
    organization_name: str
    role: str


def member_role(slug: str) -> str:
    """The floww role of an organization role slug (``viewer`` for unknown ones)."""
    return _ROLES.get(slug.lower(), "viewer")


def namespace_id_for(organization_id: str) -> str:
    return f"ns_{organization_id.lower()}"


def namespace_name_for(organization_name: str, organization_id: str) -> str:
    """A valid namespace name for an organization (its id's tail when the name has nothing
    usable)."""
    name = _NOT_NAME.sub("-", organization_name.lower()).strip("-._")[:50]
    return name or organization_id.lower()[-12:]


def _ensure_namespace(repo: WorkflowRepo, clock: Clock, org: OrganizationRole) -> str:
    namespace_id = namespace_id_for(org.organization_id)
    try:
        repo.get_namespace(namespace_id)
        return namespace_id
    except NotFound:
        pass
    base = namespace_name_for(org.organization_name, org.organization_id)
    for name in (base, f"{base}-{org.organization_id.lower()[-6:]}", org.organization_id.lower()):
        try:
            repo.create_namespace(Namespace(id=namespace_id, name=name, created_at=clock.now()))
            return namespace_id
        except Conflict:
            try:  # another replica made it at the same moment
                repo.get_namespace(namespace_id)
                return namespace_id
            except NotFound:
                continue  # the name belongs to another namespace: try the next one
    raise Conflict(f"no free namespace name for organization {org.organization_id}")


def sync_memberships(
    repo: WorkflowRepo, clock: Clock, user_id: str, memberships: Sequence[OrganizationRole]
) -> list[str]:
    """Make ``user_id`` a member, with the mapped role, of the namespace of each organization
    it belongs to (creating the namespaces on first sight); returns those namespace ids.
    ``Conflict`` only when no name at all can be found for a new namespace."""
    ids = []
    for org in memberships:
        namespace_id = _ensure_namespace(repo, clock, org)
        role = member_role(org.role)
        known = repo.get_member(namespace_id, user_id)
        if known is None or known.role != role:
            repo.add_member(Member(namespace_id, user_id, role))
        ids.append(namespace_id)
    return ids
