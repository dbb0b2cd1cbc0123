"""Runs the developer's code in this process, through the runtime wire contract."""

from __future__ import annotations

import collections
import threading
from typing import Any

from floww.domain.model import CodeBundle, Definitions, Invocation, InvocationResult
from floww.ports.userspace import UserspaceRunner
from floww.sdk import wire
from floww.sdk.inprocess import call_runtime, invoke_in_process

__all__ = ["KEPT_INVOCATIONS", "InProcessRunner"]

KEPT_INVOCATIONS = 100
"""The last invocations kept for inspection: a long ``floww dev`` session runs many, each
with its event, and must not keep them all."""


class InProcessRunner(UserspaceRunner):
    """``load`` asks the SDK runtime for the code's definitions (``UserCodeError`` when it
    fails) and remembers the last code that loaded: a failed load leaves it in place.
    ``invoke`` runs under the invocation's deadline (``DeadlineExceeded`` past it);
    ``invocations`` holds the last ``KEPT_INVOCATIONS`` of them."""

    def __init__(self, kv_backend: Any = None) -> None:
        self._kv_backend = kv_backend
        self._lock = threading.Lock()
        self.loaded: CodeBundle | None = None
        self.definitions: Definitions | None = None
        self.invocations: collections.deque[Invocation] = collections.deque(maxlen=KEPT_INVOCATIONS)

    def load(self, code: CodeBundle, providers: dict[str, dict[str, str]]) -> Definitions:
        answer = call_runtime(wire.definitions_request(code, providers))
        definitions = wire.definitions_from_wire(answer)
        with self._lock:
            self.loaded = code
            self.definitions = definitions
        return definitions

    def invoke(self, invocation: Invocation) -> InvocationResult:
        with self._lock:
            self.invocations.append(invocation)
        return invoke_in_process(invocation, kv_backend=self._kv_backend)
