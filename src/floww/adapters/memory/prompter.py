"""A prompter that answers from a script and remembers the conversation."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import attrs

from floww.domain.errors import InvalidInput
from floww.domain.model import ProviderField
from floww.ports.support import Prompter

__all__ = ["AskedField", "ScriptedPrompter"]


@attrs.frozen
class AskedField:
    provider: str
    field: str
    secret: bool


class ScriptedPrompter(Prompter):
    """Answers ``ask`` from ``answers`` and ``confirm`` from ``confirms``.

    ``answers`` is either a list consumed in order or a mapping keyed ``"<provider>.<field>"``
    or just ``"<field>"``. ``confirms`` is a list consumed in order, a mapping keyed by the
    question, or ``None`` to take each question's default. A question the script cannot answer
    raises ``InvalidInput`` naming it, so a test fails loudly instead of hanging.
    """

    def __init__(
        self,
        answers: Mapping[str, str] | Sequence[str] = (),
        confirms: Mapping[str, bool] | Sequence[bool] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, str] | list[str] = (
            dict(answers) if isinstance(answers, Mapping) else list(answers)
        )
        self._confirms: dict[str, bool] | list[bool] | None = (
            None
            if confirms is None
            else dict(confirms)
            if isinstance(confirms, Mapping)
            else list(confirms)
        )
        self.asked: list[AskedField] = []
        self.questions: list[str] = []
        self.said: list[str] = []

    def ask(self, field: ProviderField, *, provider: str) -> str:
        with self._lock:
            self.asked.append(AskedField(provider, field.name, field.secret))
            if isinstance(self._answers, list):
                if not self._answers:
                    raise InvalidInput(f"no scripted answer left for {provider}.{field.name}")
                return self._answers.pop(0)
            for key in (f"{provider}.{field.name}", field.name):
                if key in self._answers:
                    return self._answers[key]
            raise InvalidInput(f"no scripted answer for {provider}.{field.name}")

    def confirm(self, question: str, *, default: bool = False) -> bool:
        with self._lock:
            self.questions.append(question)
            if self._confirms is None:
                return default
            if isinstance(self._confirms, list):
                if not self._confirms:
                    raise InvalidInput(f"no scripted confirmation left for {question!r}")
                return self._confirms.pop(0)
            if question in self._confirms:
                return self._confirms[question]
            return default

    def say(self, line: str) -> None:
        with self._lock:
            self.said.append(line)
