"""The first prerequisite of ``floww dev`` and ``floww deploy``: the project's workflow exists
on the server. One rule for both commands:

1. the workflow ``floww.toml`` records by id; when it is gone (deleted, or another server),
   say so and go on by name (the CLI then records the new id);
2. else the workflow of the project's name in its namespace;
3. else create it, with ``--yes`` or when the developer agrees (never for a plan, which
   changes nothing);
4. else let the developer pick another of the namespace's workflows (``floww dev`` offers a
   list); ``InvalidInput`` saying what to run when none of that happens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from floww.domain.errors import InvalidInput, NotFound
from floww.domain.model import Workflow
from floww.ports.platform import Platform
from floww.ports.support import Prompter

__all__ = ["Pick", "resolve_workflow"]

Pick = Callable[[Sequence[str]], str | None]


def resolve_workflow(
    platform: Platform,
    *,
    name: str,
    workflow_id: str | None,
    namespace_id: Callable[[], str],
    prompter: Prompter,
    assume_yes: bool,
    command: str = "floww dev",
    plan: bool = False,
    others: Callable[[str], Sequence[str]] = lambda _ns: (),
    pick: Pick = lambda _names: None,
) -> Workflow:
    """``namespace_id`` is asked only when the id alone does not settle it; ``command`` names
    the command in messages; ``others`` lists the namespace's workflow names and ``pick`` lets
    the developer choose one (``None``: no choice)."""
    if workflow_id:
        try:
            return platform.get_workflow(workflow_id)
        except NotFound:
            prompter.say(
                f"Workflow {workflow_id} of floww.toml no longer exists; "
                f"using the workflow named {name!r}."
            )
    ns = namespace_id()
    found = platform.find_workflow(ns, name)
    if found is not None:
        return found
    if plan:
        raise InvalidInput(
            f"workflow {name!r} does not exist yet; run `{command}` without --plan to create it"
        )
    if assume_yes or prompter.confirm(
        f"Workflow {name!r} does not exist. Create it?", default=True
    ):
        return platform.create_workflow(ns, name)
    names = [n for n in others(ns) if n != name]
    chosen = pick(names) if names else None
    if chosen:
        picked = platform.find_workflow(ns, chosen)
        if picked is not None:
            return picked
    raise InvalidInput(
        f"{command} needs a workflow: run `{command} --yes` to create {name!r}, "
        "or set [workflow] name in floww.toml to an existing one"
    )
