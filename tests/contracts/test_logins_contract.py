"""The shipped ``floww.testing.contracts.logins`` suite on the factories of ``conftest.py``."""

from floww.testing.contracts.logins import *  # noqa: F403
