"""The first prerequisite of ``floww dev``: the project's workflow exists on the server.

The workflow is the one ``floww.toml`` records by id; else the one of its name in its
namespace; else, when missing, it is created (with ``--yes``, or when the developer agrees) or
one of the namespace's workflows is picked. ``InvalidInput`` when none of that can happen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from floww.domain.errors import InvalidInput, NotFound
from floww.domain.model import Workflow
from floww.ports.platform import Platform
from floww.ports.support import Prompter

__all__ = ["resolve_workflow"]

Pick = Callable[[Sequence[str]], str | None]


def resolve_workflow(
    platform: Platform,
    *,
    name: str,
    workflow_id: str | None,
    namespace_id: Callable[[], str],
    prompter: Prompter,
    assume_yes: bool,
    others: Callable[[str], Sequence[str]] = lambda _ns: (),
    pick: Pick = lambda _names: None,
) -> Workflow:
    """``namespace_id`` is asked only when the id alone does not settle it; ``others`` lists
    the namespace's workflow names and ``pick`` lets the developer choose one (``None``: no
    choice)."""
    if workflow_id:
        try:
            return platform.get_workflow(workflow_id)
        except NotFound:
            prompter.say(f"Workflow {workflow_id} of floww.toml no longer exists.")
    ns = namespace_id()
    found = platform.find_workflow(ns, name)
    if found is not None:
        return found
    question = f"Workflow {name!r} does not exist. Create it?"
    if assume_yes or prompter.confirm(question, default=True):
        return platform.create_workflow(ns, name)
    names = [n for n in others(ns) if n != name]
    chosen = pick(names) if names else None
    if chosen:
        picked = platform.find_workflow(ns, chosen)
        if picked is not None:
            return picked
    raise InvalidInput(
        f"floww dev needs a workflow: run `floww dev --yes` to create {name!r}, "
        "or set [workflow] name in floww.toml to an existing one"
    )
