"""The shipped ``floww.testing.contracts.workflow_repo_lifecycle`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.workflow_repo_lifecycle import *  # noqa: F403
