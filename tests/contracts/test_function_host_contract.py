"""The shipped ``floww.testing.contracts.function_host`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.function_host import *  # noqa: F403
