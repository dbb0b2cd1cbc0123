"""The shipped ``floww.testing.contracts.image_builder`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.image_builder import *  # noqa: F403
