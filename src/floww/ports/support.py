"""Small ports for side effects the use cases must not own: time, ids, secret encryption,
asking the developer a question, and building runtime images."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from floww.domain.model import ProviderField, RuntimeTarget
from floww.domain.oci import OciImage

__all__ = ["BuiltImage", "Clock", "IdGenerator", "ImageBuilder", "Prompter", "SecretBox"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for measuring durations."""


class IdGenerator(Protocol):
    def new_id(self, prefix: str) -> str:
        """A new unique id such as ``wf_3k9...``."""


class SecretBox(Protocol):
    """Authenticated encryption for data at rest. ``open`` raises ``InvalidInput`` for
    tampered or foreign ciphertext."""

    def seal(self, plaintext: bytes) -> bytes: ...

    def open(self, ciphertext: bytes) -> bytes: ...


class Prompter(Protocol):
    def ask(self, field: ProviderField, *, provider: str) -> str:
        """Ask for one credential field; secret fields are typed hidden."""

    def confirm(self, question: str, *, default: bool = False) -> bool: ...

    def say(self, line: str) -> None: ...


@attrs.frozen
class BuiltImage:
    tag: str
    image: OciImage


class ImageBuilder(Protocol):
    def spec_hash(self, target: RuntimeTarget, requirements: Sequence[str]) -> str:
        """The tag for (target, locked requirements, floww version); cheap, builds nothing."""

    def build(self, target: RuntimeTarget, requirements: Sequence[str]) -> BuiltImage:
        """Build the dependency image. ``InvalidInput`` for requirements that cannot be
        installed for the target; ``Unavailable`` when the package index cannot be reached."""
