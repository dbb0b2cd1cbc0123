"""The shipped ``floww.testing.contracts.workflow_repo_retention`` suite on the factories of
``conftest.py``."""

from floww.testing.contracts.workflow_repo_retention import *  # noqa: F403
