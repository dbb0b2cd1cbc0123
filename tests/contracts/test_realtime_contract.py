"""The shipped ``floww.testing.contracts.realtime`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.realtime import *  # noqa: F403
