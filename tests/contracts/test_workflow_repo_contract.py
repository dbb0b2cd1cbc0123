"""The shipped ``floww.testing.contracts.workflow_repo`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.workflow_repo import *  # noqa: F403
