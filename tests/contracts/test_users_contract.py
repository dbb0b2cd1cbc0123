"""The shipped ``floww.testing.contracts.users`` suite on the factories of ``conftest.py``."""

from floww.testing.contracts.users import *  # noqa: F403
