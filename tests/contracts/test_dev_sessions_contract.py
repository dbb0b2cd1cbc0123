"""The shipped ``floww.testing.contracts.dev_sessions`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.dev_sessions import *  # noqa: F403
