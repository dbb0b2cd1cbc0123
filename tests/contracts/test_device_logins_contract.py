"""The shipped ``floww.testing.contracts.device_logins`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.device_logins import *  # noqa: F403
