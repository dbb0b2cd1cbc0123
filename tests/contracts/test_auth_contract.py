"""The shipped ``floww.testing.contracts.auth`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.auth import *  # noqa: F403
