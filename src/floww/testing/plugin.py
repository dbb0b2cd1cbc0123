"""The floww pytest plugin (registered as ``floww`` through the ``pytest11`` entry point).

Its fixture ``floww_workflow`` loads a workflow module and returns a ``WorkflowUnderTest``
whose triggers the test fires in memory::

    def test_hello(floww_workflow):
        workflow = floww_workflow("../main.py")
        run = workflow.webhook("/hello/ada", json={})
        assert run.ok and run.result == {"message": "hi ada"}

See ``docs/testing.md`` for the whole API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from floww.testing.workflow import WorkflowUnderTest, load_workflow

__all__ = ["LoadWorkflow", "floww_workflow"]

LoadWorkflow = Callable[..., WorkflowUnderTest]


@pytest.fixture
def floww_workflow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> LoadWorkflow:
    """Load a workflow for this test: ``floww_workflow(target, *, providers=None, kv=None)``.

    ``target`` is the path of the module's ``.py`` file (a relative path starts from the test
    module's directory) or an importable module name (``flows.main``). ``providers`` gives
    configs keyed ``type:alias`` (``{"slack:ops": {"bot_token": "xoxb-test"}}``); a provider the
    module uses without one gets placeholders. ``kv`` seeds ``ctx.kv``. Provider actions are
    recorded in ``workflow.providers``, never sent.
    """
    base = Path(str(request.path)).parent
    cache_root = tmp_path_factory.mktemp("floww-code")

    def load(
        target: str | Path,
        *,
        providers: Mapping[str, Mapping[str, str]] | None = None,
        kv: Mapping[str, Any] | None = None,
    ) -> WorkflowUnderTest:
        return load_workflow(target, providers=providers, kv=kv, cache_root=cache_root, base=base)

    return load
