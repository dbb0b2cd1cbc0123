"""The shipped ``floww.testing.contracts.api_keys`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.api_keys import *  # noqa: F403
