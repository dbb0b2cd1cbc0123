"""WorkOS as the identity provider of the cloud profile (``FLOWW_IDENTITY=workos``): access
tokens verified locally against the client's JWKS, users provisioned from WorkOS
organizations, and AuthKit browser sign-in. See ``docs/cloud-identity.md``."""

from floww.adapters.workos.directory import SignedIn, WorkOSDirectory
from floww.adapters.workos.identity import Provision, WorkOSBrowserSignIn, WorkOSIdentity
from floww.adapters.workos.jwks import WorkOSTokenVerifier

__all__ = [
    "Provision",
    "SignedIn",
    "WorkOSBrowserSignIn",
    "WorkOSDirectory",
    "WorkOSIdentity",
    "WorkOSTokenVerifier",
]
