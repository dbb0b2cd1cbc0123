"""UserspaceRunner: runs the user's code on the developer's machine (``floww dev``), through
the same runtime contract a function host uses.

- ``load`` executes the module and returns its definitions; ``UserCodeError`` (with file and
  line) when it fails to import or declares something invalid. A failed load leaves the
  previously loaded code usable.
- ``invoke`` runs one trigger of loaded (or loadable) code; a raising handler gives
  ``InvocationResult(ok=False)``.
"""

from __future__ import annotations

from typing import Protocol

from floww.domain.model import CodeBundle, Definitions, Invocation, InvocationResult

__all__ = ["UserspaceRunner"]


class UserspaceRunner(Protocol):
    def load(self, code: CodeBundle, providers: dict[str, dict[str, str]]) -> Definitions: ...

    def invoke(self, invocation: Invocation) -> InvocationResult: ...
