"""The embedded realtime hub in the ``Realtime`` contract suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from floww.adapters.local.hub import LocalRealtimeHub
from floww.ports.realtime import Realtime


def local_realtime() -> Iterator[Realtime]:
    yield LocalRealtimeHub()


REALTIME_FACTORIES = [pytest.param(local_realtime, id="local-hub")]
