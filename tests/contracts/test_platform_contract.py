"""The shipped ``floww.testing.contracts.platform`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.platform import *  # noqa: F403
