"""``floww.toml``, the project file at a project's root:

    [workflow]
    name = "hello"
    namespace = "default"
    id = "wf_..."
    entrypoint = "main.py"
    requirements = "requirements.txt"

    [providers]
    "slack:default" = "ops"

Read with ``tomllib``; written by a small writer for this fixed shape.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import attrs

from floww.domain.errors import InvalidInput, NotFound

__all__ = ["PROJECT_FILE", "Project", "find_project"]

PROJECT_FILE = "floww.toml"


@attrs.frozen
class Project:
    root: Path
    name: str
    namespace: str | None = None
    workflow_id: str | None = None
    entrypoint: str = "main.py"
    requirements: str | None = "requirements.txt"
    providers: dict[str, str] = attrs.field(factory=dict)

    @property
    def path(self) -> Path:
        return self.root / PROJECT_FILE

    @classmethod
    def load(cls, root: Path) -> Project:
        path = root / PROJECT_FILE
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound("project file", str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{path} is not valid TOML: {exc}") from None
        workflow = doc.get("workflow")
        if not isinstance(workflow, dict) or not isinstance(workflow.get("name"), str):
            raise InvalidInput(f"{path} needs [workflow] with a name")
        providers = doc.get("providers", {})
        if not isinstance(providers, dict) or not all(
            isinstance(v, str) for v in providers.values()
        ):
            raise InvalidInput(f'{path}: [providers] maps "type:alias" to alias strings')

        def text(key: str) -> str | None:
            value = workflow.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"{path}: workflow.{key} must be a string")
            return value or None

        return cls(
            root=root,
            name=workflow["name"],
            namespace=text("namespace"),
            workflow_id=text("id"),
            entrypoint=text("entrypoint") or "main.py",
            requirements=text("requirements"),
            providers=dict(providers),
        )

    def requirement_lines(self) -> tuple[str, ...]:
        if not self.requirements:
            return ()
        path = self.root / self.requirements
        if not path.is_file():
            return ()
        lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
        return tuple(line for line in lines if line)

    def render(self) -> str:
        lines = ["[workflow]", f"name = {_q(self.name)}"]
        if self.namespace:
            lines.append(f"namespace = {_q(self.namespace)}")
        if self.workflow_id:
            lines.append(f"id = {_q(self.workflow_id)}")
        lines.append(f"entrypoint = {_q(self.entrypoint)}")
        if self.requirements:
            lines.append(f"requirements = {_q(self.requirements)}")
        if self.providers:
            lines += ["", "[providers]"]
            lines += [f"{_q(k)} = {_q(v)}" for k, v in sorted(self.providers.items())]
        return "\n".join(lines) + "\n"

    def save(self) -> None:
        self.path.write_text(self.render(), encoding="utf-8")


def _q(value: str) -> str:
    # A JSON string is a valid TOML basic string for everything json.dumps emits here.
    return json.dumps(value, ensure_ascii=False)


def find_project(start: Path) -> Project:
    """The project of ``start`` or its nearest parent holding ``floww.toml``; ``NotFound``
    saying to run ``floww init`` otherwise."""
    for directory in (start, *start.parents):
        if (directory / PROJECT_FILE).is_file():
            return Project.load(directory)
    raise NotFound("project file", f"{PROJECT_FILE} (in {start} or a parent directory)")
