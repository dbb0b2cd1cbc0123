"""What floww reads from WorkOS through its SDK: users, their organization memberships, and the
code / refresh-token grants of ``/user_management/authenticate``.

Every SDK failure is translated here: a refused grant is ``Unauthenticated``; WorkOS
unreachable, timing out or answering 5xx (or anything else unexpected) is ``Unavailable`` with
a sentence saying so. The SDK retries at most ``max_retries`` times, so a request made while
someone waits does not hang on a failing WorkOS.
"""

from __future__ import annotations

import attrs
from workos import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    UnprocessableEntityError,
    WorkOSClient,
    WorkOSError,
)

from floww.domain.errors import NotFound, Unauthenticated, Unavailable
from floww.domain.usecases.provisioning import OrganizationRole

__all__ = ["SignedIn", "WorkOSDirectory"]

_REFUSED = (BadRequestError, AuthenticationError, UnprocessableEntityError, NotFoundError)


@attrs.frozen
class SignedIn:
    """The answer of a successful grant."""

    user_id: str
    email: str | None
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)


def _unavailable(exc: WorkOSError) -> Unavailable:
    return Unavailable(f"WorkOS is unavailable right now ({type(exc).__name__}); try again shortly")


class WorkOSDirectory:
    """Reads and grants against one WorkOS environment (its API key and client id)."""

    def __init__(
        self,
        *,
        api_key: str,
        client_id: str,
        base_url: str,
        timeout: int = 10,
        max_retries: int = 1,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.sdk = WorkOSClient(
            api_key=api_key,
            client_id=client_id,
            base_url=self.base_url,
            request_timeout=timeout,
            max_retries=max_retries,
        )

    def __repr__(self) -> str:
        return f"WorkOSDirectory(base_url={self.base_url!r}, client_id={self.client_id!r})"

    def email(self, user_id: str) -> str | None:
        """The user's email; ``NotFound`` for a user WorkOS does not know."""
        try:
            return self.sdk.user_management.get_user(user_id).email
        except NotFoundError:
            raise NotFound("user", user_id) from None
        except WorkOSError as exc:
            raise _unavailable(exc) from exc

    def memberships(self, user_id: str) -> list[OrganizationRole]:
        """The user's active organization memberships with their role slugs."""
        try:
            page = self.sdk.organization_membership.list_organization_memberships(
                user_id=user_id, statuses=["active"], limit=100
            )
            found = []
            for membership in page.auto_paging_iter():
                name = membership.organization_name
                if not name:
                    name = self.sdk.organizations.get_organization(membership.organization_id).name
                found.append(
                    OrganizationRole(membership.organization_id, name, membership.role.slug)
                )
            return found
        except WorkOSError as exc:
            raise _unavailable(exc) from exc

    def authorization_url(self, *, redirect_uri: str, state: str) -> str:
        """AuthKit's sign-in page for this client."""
        return self.sdk.user_management.get_authorization_url(
            redirect_uri=redirect_uri, state=state, provider="authkit"
        )

    def logout_url(self, session_id: str, return_to: str) -> str:
        return self.sdk.user_management.get_logout_url(session_id=session_id, return_to=return_to)

    def sign_in_with_code(self, code: str) -> SignedIn:
        """The session an authorization code stands for; ``Unauthenticated`` when refused."""
        try:
            answer = self.sdk.user_management.authenticate_with_code(code=code)
        except _REFUSED:
            raise Unauthenticated("WorkOS refused the sign-in code; sign in again") from None
        except WorkOSError as exc:
            raise _unavailable(exc) from exc
        return SignedIn(
            answer.user.id, answer.user.email, answer.access_token, answer.refresh_token
        )
