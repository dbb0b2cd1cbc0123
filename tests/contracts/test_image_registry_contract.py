"""The shipped ``floww.testing.contracts.image_registry`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.image_registry import *  # noqa: F403
