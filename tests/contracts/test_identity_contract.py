"""The shipped ``floww.testing.contracts.identity`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.identity import *  # noqa: F403
