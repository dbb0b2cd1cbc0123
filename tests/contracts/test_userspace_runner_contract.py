"""The shipped ``floww.testing.contracts.userspace_runner`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.userspace_runner import *  # noqa: F403
