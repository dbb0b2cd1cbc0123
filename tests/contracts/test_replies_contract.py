"""The shipped ``floww.testing.contracts.replies`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.replies import *  # noqa: F403
